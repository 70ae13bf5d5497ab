import click
from flask.cli import AppGroup

from tasks.schedules import tick
from webapp.cli.output import echo_json, echo_table, json_option
from webapp.services import schedule_runs, timing
from webapp.services import schedules as service

schedule_cli = AppGroup("schedule", help="Schedules kept in the database.")


@schedule_cli.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Schedules with expression, description, next run and last result."""
    rows = [service.to_dict(s) for s in service.list_schedules()]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No schedules. `flask schedule install-defaults` adds a few, switched off.")
        return
    echo_table(
        ["ID", "NAME", "COMMAND", "CRON", "WHEN", "ACTIVE", "NEXT RUN", "LAST"],
        [
            (
                s["id"],
                s["name"],
                s["command"],
                s["cron"],
                s["cron_description"],
                "yes" if s["active"] else "no",
                s["next_run_at"] or "—",
                (s["last_run"] or {}).get("status", "—"),
            )
            for s in rows
        ],
    )


@schedule_cli.command("run")
def run_due() -> None:
    """Dispatch every schedule that is due now."""
    click.echo(f"Dispatched {tick()} scheduled run(s).")


@schedule_cli.command("test")
@click.argument("ref")
def test(ref: str) -> None:
    """Run one schedule (by name or id) now, whatever its timing, and show its output."""
    schedule = service.get_schedule(ref)
    run = schedule_runs.execute_run(schedule_runs.manual_run(schedule, "schedule test").id)
    click.echo((run.output or "").rstrip())
    click.echo(f"{schedule.command}: exit code {run.exit_code} ({run.status})")
    if run.exit_code:
        raise SystemExit(1)


@schedule_cli.command("install-defaults")
def install_defaults() -> None:
    """Add the default schedules (switched off) that are not there yet."""
    made = service.install_defaults()
    for schedule in made:
        click.echo(f"Added {schedule.name!r}: {timing.describe(schedule.cron)} (off).")
    if not made:
        click.echo("The default schedules are already there.")
