import click
from flask.cli import AppGroup

from tasks.integrations import dispatch_due
from webapp.cli.output import echo_json, echo_table, json_option
from webapp.services import integrations as service

integrations_cli = AppGroup("integrations", help="Per-user integrations.")


@integrations_cli.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Integrations with frequency, state and last success."""
    rows = service.integrations_of()
    if as_json:
        echo_json([i.to_dict() for i in rows])
        return
    if not rows:
        click.echo("No integrations.")
        return
    echo_table(
        ["ID", "USER", "SERVICE", "NAME", "EVERY", "STATE", "LAST SUCCESS", "LAST ERROR"],
        [
            (
                i.id,
                i.user_id,
                i.service,
                i.name,
                f"{i.update_frequency_minutes} min",
                i.state,
                i.last_successful_update_at,
                (i.last_error or "")[:50],
            )
            for i in rows
        ],
    )


@integrations_cli.command("fetch")
@click.option("--service", "service_name", help="Only integrations of this service.")
@click.option("--force", is_flag=True, help="Update every active integration, due or not.")
def fetch(service_name: str | None, force: bool) -> None:
    """Dispatch an update for each due integration now (--force: all)."""
    ids = dispatch_due(service_name, force)
    click.echo(f"Dispatched {len(ids)} integration updates.")
