import click
from flask.cli import AppGroup

from tasks.series import (
    DISPATCH_CHUNK,
    dispatch_episode_data,
    dispatch_pending_syncs,
    dispatch_series_data,
)
from webapp.cli.output import Progress, echo_json, echo_table
from webapp.extensions import db
from webapp.models.series import Series
from webapp.services import series as series_service

series_cli = AppGroup("series", help="TV series and their data from TVmaze.")
episodes_cli = AppGroup("episodes", help="Episodes and their data from TVmaze.")

HOURS = click.FloatRange(min=0, min_open=True)


def _quick(ids: list[int]) -> bool:
    """Whether dispatching these takes one round trip, too quick for a progress bar."""
    return len(ids) <= DISPATCH_CHUNK


def _dispatch_stale(find, dispatch, noun: str, unchanged: str) -> None:
    """Find stale rows, dispatch their data jobs, and say what was skipped."""
    stale = find()
    if stale.note:
        click.echo(stale.note, err=True)
    with Progress(
        f"Queueing {len(stale.ids):,} {noun} data jobs", quiet=_quick(stale.ids)
    ) as report:
        ids = dispatch(stale.ids, report=report)
    click.echo(
        f"Dispatched {len(ids)} {noun} data jobs; skipped {stale.skipped_unchanged} {unchanged}."
    )


@series_cli.command("add")
@click.option("--tvmaze", "tvmaze_id", type=click.IntRange(min=1), help="TVmaze show id.")
@click.option("--tvdb", "tvdb_id", type=click.IntRange(min=1), help="TheTVDB series id.")
@click.option("--json", "as_json", is_flag=True)
def add(tvmaze_id: int | None, tvdb_id: int | None, as_json: bool) -> None:
    """Add a series (its data is imported by the next import-missing-data)."""
    if (tvmaze_id is None) == (tvdb_id is None):
        raise click.UsageError("give exactly one of --tvmaze ID or --tvdb ID")
    series = series_service.add_series(tvmaze_id=tvmaze_id, tvdb_id=tvdb_id)
    if as_json:
        echo_json(series.to_dict())
    else:
        click.echo(f"Added {series.label} as series {series.id}.")


@series_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """Series with their freshness."""
    rows = list(db.session.scalars(db.select(Series).order_by(Series.id)))
    if as_json:
        echo_json([s.to_dict() for s in rows])
        return
    echo_table(
        ["ID", "NAME", "TVMAZE", "TVDB", "FRESHNESS", "UPDATED"],
        [
            (
                s.id,
                s.label,
                s.tvmaze_id,
                s.tvdb_id,
                series_service.freshness(s),
                s.data_last_updated_at,
            )
            for s in rows
        ],
    )


@series_cli.command("import-missing-data")
def series_import_missing() -> None:
    """Dispatch a data job for every series never imported."""
    missing = series_service.series_missing_data()
    with Progress(f"Queueing {len(missing):,} series data jobs", quiet=_quick(missing)) as report:
        ids = dispatch_series_data(missing, report=report)
    click.echo(f"Dispatched {len(ids)} series data jobs.")


@series_cli.command("check-data-updates")
@click.option(
    "--hours",
    type=HOURS,
    default=24,
    show_default=True,
    help="Refresh series imported longer ago than this.",
)
def series_check_updates(hours: float) -> None:
    """Dispatch data jobs for series older than --hours that changed upstream."""
    _dispatch_stale(
        lambda: series_service.stale_series(hours),
        dispatch_series_data,
        "series",
        "that TVmaze says have not changed",
    )


@episodes_cli.command("import-missing-data")
def episodes_import_missing() -> None:
    """Dispatch a data job for every episode never imported, and a pending-episodes sync for
    every series with episodes reset by retry-failed --reset."""
    missing = series_service.episodes_missing_data()
    with Progress(f"Queueing {len(missing):,} episode data jobs", quiet=_quick(missing)) as report:
        ids = dispatch_episode_data(missing, report=report)
    click.echo(f"Dispatched {len(ids)} episode data jobs.")
    reset = series_service.series_with_reset_episodes()
    if reset:
        jobs = dispatch_pending_syncs(list(reset))
        click.echo(f"Dispatched {len(jobs)} series jobs for {sum(reset.values())} reset episodes.")


@episodes_cli.command("check-data-updates")
@click.option(
    "--hours",
    type=HOURS,
    default=48,
    show_default=True,
    help="Refresh episodes imported longer ago than this.",
)
def episodes_check_updates(hours: float) -> None:
    """Dispatch data jobs for episodes older than --hours whose show changed upstream."""
    _dispatch_stale(
        lambda: series_service.stale_episodes(hours),
        dispatch_episode_data,
        "episode",
        "whose show TVmaze says has not changed",
    )


@episodes_cli.command("retry-failed")
@click.option("--series", "series_id", type=click.IntRange(min=1), help="Only this series.")
@click.option("--user", "user_id", type=click.IntRange(min=1), help="Only series this user added.")
@click.option("--reset", is_flag=True, help="Only reset to pending; dispatch nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def retry_failed(series_id: int | None, user_id: int | None, reset: bool, yes: bool) -> None:
    """Reset failed episode syncs to pending and dispatch one job per series."""
    failed = series_service.failed_episode_syncs(series_id, user_id)
    if not failed:
        click.echo("No failed episode syncs found.")
        return
    names = dict(
        db.session.execute(db.select(Series.id, Series.name).where(Series.id.in_(failed))).all()
    )
    for sid, count in failed.items():
        click.echo(f"Series {sid} ({names.get(sid) or 'unnamed'}): {count} failed episode syncs")
    total = sum(failed.values())
    action = "Reset" if reset else "Reset and retry"
    if not yes:
        click.confirm(f"{action} {total} episode syncs in {len(failed)} series?", abort=True)
    series_service.reset_failed_episodes(list(failed))
    if reset:
        click.echo(f"Reset {total} episode syncs to pending in {len(failed)} series.")
        click.echo("`flask episodes import-missing-data` dispatches their sync.")
        return
    ids = dispatch_pending_syncs(list(failed))
    for sid, job_id in zip(failed, ids, strict=True):
        click.echo(f"Series {sid}: {failed[sid]} episodes reset, job {job_id} dispatched.")
