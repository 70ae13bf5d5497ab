"""Finding work for the series data jobs: series and episodes never imported, imported too
long ago (less those TVmaze says have not changed), or reset after a failed sync; each without
a job of that kind already pending or running for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import ACTIVE_STATUSES, JobLog
from webapp.models.series import Episode, Series, SyncStatus
from webapp.services.series import SeriesError
from webapp.services.tvmaze import UPDATE_WINDOWS, TVmazeError, tvmaze

SERIES_DATA_TASK = "import_series_data"
EPISODE_DATA_TASK = "import_episode_data"
PENDING_EPISODES_TASK = "sync_pending_episodes"


# -- finding work ---------------------------------------------------------------------------


def _without_active_job(model, source_type: str, task: str):
    """Rows that have no pending or running job of ``task`` working for them."""
    return ~exists().where(
        JobLog.source_type == source_type,
        JobLog.source_id == model.id,
        JobLog.task == task,
        JobLog.status.in_(ACTIVE_STATUSES),
    )


def series_missing_data() -> list[int]:
    """Series never imported, not known to be gone, and not already being imported."""
    return list(
        db.session.scalars(
            select(Series.id)
            .where(Series.data_last_updated_at.is_(None), Series.upstream_state == "ok")
            .where(_without_active_job(Series, "series", SERIES_DATA_TASK))
            .order_by(Series.id)
        )
    )


def episodes_missing_data() -> list[int]:
    return list(
        db.session.scalars(
            select(Episode.id)
            .where(Episode.data_last_updated_at.is_(None))
            .where(_without_active_job(Episode, "episode", EPISODE_DATA_TASK))
            .order_by(Episode.id)
        )
    )


@dataclass
class StaleRows:
    """Rows older than the cut-off: those to refresh, and how many upstream says are unchanged."""

    ids: list[int]
    skipped_unchanged: int
    note: str = ""


def _upstream_changes(oldest_import: datetime) -> tuple[dict[int, int] | None, datetime, str]:
    """TVmaze's changed shows over the smallest window that reaches back to ``oldest_import``
    (a month at most), or None when TVmaze cannot tell us."""
    age_hours = (utcnow() - oldest_import).total_seconds() / 3600
    since = next((s for s, hours in UPDATE_WINDOWS.items() if age_hours <= hours), "month")
    window_start = utcnow() - timedelta(hours=UPDATE_WINDOWS[since])
    try:
        return tvmaze().updated_shows(since), window_start, ""
    except TVmazeError as exc:
        return None, window_start, f"could not ask TVmaze what changed ({exc}); refreshing all"


def _unchanged(tvmaze_id: int | None, last_import: datetime, changes, window_start) -> bool:
    """True when upstream says the show has not changed since our last import."""
    if changes is None or tvmaze_id is None:
        return False
    changed_at = changes.get(tvmaze_id)
    if changed_at is None:
        # Not changed within the window; that says enough only if we imported inside it.
        return last_import >= window_start
    return datetime.fromtimestamp(changed_at, UTC) <= last_import


def _skip_unchanged(rows) -> StaleRows:
    """Of (id, tvmaze_id, data_last_updated_at) rows, those TVmaze may have changed since."""
    if not rows:
        return StaleRows([], 0)
    changes, window_start, note = _upstream_changes(min(r.data_last_updated_at for r in rows))
    ids = [
        r.id
        for r in rows
        if not _unchanged(r.tvmaze_id, r.data_last_updated_at, changes, window_start)
    ]
    return StaleRows(ids, len(rows) - len(ids), note)


def _validate_hours(hours: float) -> None:
    if not hours > 0:
        raise SeriesError("--hours must be a positive number")


def stale_series(hours: float) -> StaleRows:
    """Imported series older than ``hours``, minus those TVmaze says have not changed since."""
    _validate_hours(hours)
    cutoff = utcnow() - timedelta(hours=hours)
    rows = db.session.execute(
        select(Series.id, Series.tvmaze_id, Series.data_last_updated_at)
        .where(Series.data_last_updated_at < cutoff, Series.upstream_state == "ok")
        .where(_without_active_job(Series, "series", SERIES_DATA_TASK))
        .order_by(Series.id)
    ).all()
    return _skip_unchanged(rows)


def stale_episodes(hours: float) -> StaleRows:
    """Episodes older than ``hours`` whose show TVmaze says may have changed since."""
    _validate_hours(hours)
    cutoff = utcnow() - timedelta(hours=hours)
    rows = db.session.execute(
        select(Episode.id, Series.tvmaze_id, Episode.data_last_updated_at)
        .join(Series, Series.id == Episode.series_id)
        .where(Episode.data_last_updated_at < cutoff)
        .where(_without_active_job(Episode, "episode", EPISODE_DATA_TASK))
        .order_by(Episode.id)
    ).all()
    return _skip_unchanged(rows)


def series_with_reset_episodes() -> dict[int, int]:
    """Series id -> episodes imported once and now pending again (reset after a failure), for
    series with no pending-episodes job waiting or running."""
    return dict(
        db.session.execute(
            select(Episode.series_id, func.count())
            .join(Series, Series.id == Episode.series_id)
            .where(
                Episode.sync_status == SyncStatus.PENDING.value,
                Episode.data_last_updated_at.is_not(None),
            )
            .where(_without_active_job(Series, "series", PENDING_EPISODES_TASK))
            .group_by(Episode.series_id)
            .order_by(Episode.series_id)
        ).all()
    )
