import click
from flask.cli import AppGroup

from webapp.cli.output import echo_json, echo_table, json_option
from webapp.models.base import isoformat
from webapp.services import audit

audit_cli = AppGroup("audit", help="Read the audit log.")


@audit_cli.command("list")
@click.option("--actor", help="Only this actor (an e-mail, cli:<os user> or system).")
@click.option("--action", help="Only this action (a trailing * matches a prefix).")
@click.option("--target-type", help="Only rows about this kind of record.")
@click.option("--target-id", help="Only rows about this record.")
@click.option("--since", type=click.DateTime(), help="At or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Before (UTC).")
@click.option("--limit", type=click.IntRange(1, audit.MAX_PAGE), default=50, show_default=True)
@json_option
def list_command(actor, action, target_type, target_id, since, until, limit, as_json) -> None:
    """Audit rows, newest first."""
    filters = audit.AuditFilters(actor, action, target_type, target_id, since, until)
    entries, _ = audit.list_entries(filters, limit)
    if as_json:
        echo_json([entry.to_dict() for entry in entries])
        return
    echo_table(
        ["ID", "AT", "ACTOR", "CHANNEL", "ACTION", "TARGET", "COUNT"],
        [
            (
                e.id,
                isoformat(e.at),
                e.actor,
                e.channel,
                e.action,
                f"{e.target_type} {e.target_id or ''}".strip() if e.target_type else "",
                e.count,
            )
            for e in entries
        ],
    )
