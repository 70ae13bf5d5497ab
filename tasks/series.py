"""Data jobs and finder jobs for series and episodes."""

from jobkit.context import PermanentError, current_job
from jobkit.policy import OUTSIDE_SERVICE
from jobkit.tracking import Call, tracked_task
from webapp.services import batches
from webapp.services import series as series_service
from webapp.services.tvmaze import ShowNotFound


@tracked_task(
    queue="default",
    retry_delays=OUTSIDE_SERVICE,
    unique_key=lambda series_id: series_id,
    rerun_if_lost=True,
    tags=("tvmaze", "series"),
)
def import_series_data(series_id: int) -> str:
    """SeriesDataJob: import one series and create or update its episodes."""
    job = current_job()
    job.link("series", series_id)
    try:
        return series_service.import_series_data(series_id, report=job.report)
    except ShowNotFound as exc:
        raise PermanentError(
            f"{exc}; the series is marked gone and will not be asked again"
        ) from exc


@tracked_task(
    queue="low",
    retry_delays=OUTSIDE_SERVICE,
    unique_key=lambda episode_id: episode_id,
    rerun_if_lost=True,
    tags=("tvmaze", "episodes"),
)
def import_episode_data(episode_id: int) -> str:
    """EpisodeDataJob: import one episode."""
    current_job().link("episode", episode_id)
    try:
        return series_service.import_episode_data(episode_id)
    except ShowNotFound as exc:
        raise PermanentError(str(exc)) from exc


@tracked_task(
    queue="low",
    retry_delays=OUTSIDE_SERVICE,
    unique_key=lambda series_id: series_id,
    rerun_if_lost=True,
    tags=("tvmaze", "episodes"),
)
def sync_pending_episodes(series_id: int) -> str:
    """Fetch the pending episodes of one series (after retry-failed), skipping synced ones."""
    job = current_job()
    job.link("series", series_id)
    return series_service.sync_pending_episodes(series_id, report=job.report)


# Calls queued per round trip when dispatching many, so that a long dispatch can be followed.
DISPATCH_CHUNK = 1000


def _dispatch_as_batch(
    task, name: str, source_type: str, ids: list[int], user_id, report=None
) -> list[int]:
    """One job per record, in bulk, a chunk at a time; more than one form a batch named
    ``name``. ``report(progress=0..100, message=…)`` hears after each chunk."""
    if not ids:
        return []
    batch_id = None
    if len(ids) > 1:
        batch_id = batches.create_batch(f"{name} ({len(ids)})", len(ids), user_id).id
    job_ids: list[int] = []
    for start in range(0, len(ids), DISPATCH_CHUNK):
        chunk = ids[start : start + DISPATCH_CHUNK]
        calls = [Call((record_id,), source=(source_type, record_id)) for record_id in chunk]
        job_ids += task.dispatch_many(calls, user_id=user_id, batch_id=batch_id)
        if report is not None:
            done = start + len(chunk)
            report(progress=done * 100 / len(ids), message=f"{done:,} of {len(ids):,} queued")
    return job_ids


def dispatch_series_data(
    series_ids: list[int], user_id: int | None = None, report=None
) -> list[int]:
    """One SeriesDataJob per series, in bulk, as a batch."""
    return _dispatch_as_batch(
        import_series_data, "Series data", "series", series_ids, user_id, report
    )


def dispatch_episode_data(
    episode_ids: list[int], user_id: int | None = None, report=None
) -> list[int]:
    """One EpisodeDataJob per episode, in bulk, as a batch."""
    return _dispatch_as_batch(
        import_episode_data, "Episode data", "episode", episode_ids, user_id, report
    )


def dispatch_pending_syncs(series_ids: list[int], user_id: int | None = None) -> list[int]:
    """One pending-episodes sync per series (it skips the episodes already synced)."""
    calls = [Call((series_id,), source=("series", series_id)) for series_id in series_ids]
    return sync_pending_episodes.dispatch_many(calls, user_id=user_id)


@tracked_task(queue="default", tags=("tvmaze", "series"))
def find_series_missing_data() -> str:
    """Dispatch a data job for every series never imported."""
    ids = dispatch_series_data(series_service.series_missing_data(), report=current_job().report)
    return f"Dispatched {len(ids)} series data jobs."
