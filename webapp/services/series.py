"""Series and episodes: adding them, importing their data from TVmaze, and finding what is
missing or stale."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update

from webapp.exceptions import Conflict, Invalid, NotFound
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import ACTIVE_STATUSES, JobLog
from webapp.models.series import Episode, Series, SyncStatus
from webapp.models.users import User
from webapp.services.tvmaze import UPDATE_WINDOWS, ShowNotFound, TVmazeError, tvmaze

SERIES_DATA_TASK = "import_series_data"
EPISODE_DATA_TASK = "import_episode_data"
PENDING_EPISODES_TASK = "sync_pending_episodes"


class SeriesError(Invalid):
    """A request about series that cannot be carried out, with a message for the person."""


class SeriesExists(Conflict, SeriesError):
    """The series is there already (under the same TVmaze or TheTVDB id)."""


class SeriesNotFound(NotFound, SeriesError):
    """No series or episode with this id."""


# -- adding ---------------------------------------------------------------------------------


def add_series(
    tvmaze_id: int | None = None, tvdb_id: int | None = None, user_id: int | None = None
) -> Series:
    """Add a series by one of its ids; its data is imported later by a data job."""
    if (tvmaze_id is None) == (tvdb_id is None):
        raise SeriesError("give exactly one of a TVmaze id or a TheTVDB id")
    for value in (tvmaze_id, tvdb_id):
        if value is not None and value <= 0:
            raise SeriesError("ids are positive whole numbers")
    column, value = (Series.tvmaze_id, tvmaze_id) if tvmaze_id else (Series.tvdb_id, tvdb_id)
    existing = db.session.scalar(select(Series).where(column == value))
    if existing is not None:
        raise SeriesExists(f"{existing.label} is already there (series {existing.id})")
    series = Series(tvmaze_id=tvmaze_id, tvdb_id=tvdb_id, added_by_id=user_id)
    db.session.add(series)
    db.session.commit()
    return series


def get_series(series_id: int) -> Series:
    series = db.session.get(Series, series_id)
    if series is None:
        raise SeriesNotFound(f"series {series_id} not found")
    return series


# -- importing ------------------------------------------------------------------------------


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _stamp(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _text(html: str | None) -> str | None:
    """TVmaze summaries are HTML; keep the words."""
    return re.sub(r"<[^>]+>", "", html).strip() if html else None


def apply_show(series: Series, show: dict[str, Any]) -> None:
    """Copy a TVmaze show object onto a series."""
    externals = show.get("externals") or {}
    network = show.get("network") or show.get("webChannel") or {}
    series.name = show.get("name") or series.name
    series.tvmaze_id = show.get("id") or series.tvmaze_id
    series.tvdb_id = externals.get("thetvdb") or series.tvdb_id
    series.imdb_id = externals.get("imdb")
    series.status = show.get("status")
    series.premiered = _date(show.get("premiered"))
    series.ended = _date(show.get("ended"))
    series.language = show.get("language")
    series.genres = show.get("genres") or []
    series.network = network.get("name")
    series.summary = _text(show.get("summary"))
    series.image_url = (show.get("image") or {}).get("medium")
    if show.get("updated"):
        series.upstream_updated_at = datetime.fromtimestamp(int(show["updated"]), UTC)


def apply_episode(episode: Episode, data: dict[str, Any]) -> None:
    """Copy a TVmaze episode object onto an episode and mark it synced."""
    episode.tvmaze_id = data["id"]
    episode.season = data.get("season")
    episode.number = data.get("number")
    episode.name = data.get("name")
    episode.airdate = _date(data.get("airdate"))
    episode.airstamp = _stamp(data.get("airstamp"))
    episode.runtime = data.get("runtime")
    episode.summary = _text(data.get("summary"))
    episode.sync_status = SyncStatus.SYNCED.value
    episode.last_error = None
    episode.data_last_updated_at = utcnow()


def fetch_show(series: Series) -> dict[str, Any]:
    client = tvmaze()
    if series.tvmaze_id:
        return client.show(series.tvmaze_id)
    return client.lookup_tvdb(series.tvdb_id)


def import_series_data(series_id: int, report=None) -> str:
    """Fetch a series and all its episodes from TVmaze, create or update them, and only then
    set ``data_last_updated_at``. A 404 marks the series gone and raises ShowNotFound."""
    series = get_series(series_id)
    try:
        show = fetch_show(series)
    except ShowNotFound as exc:
        series.upstream_state = "gone"
        series.last_error = str(exc)
        db.session.commit()
        raise
    apply_show(series, show)
    if report:
        report(progress=30, message=f"Fetched {series.name}")
    episodes = tvmaze().episodes(series.tvmaze_id)
    known = {
        e.tvmaze_id: e
        for e in db.session.scalars(select(Episode).where(Episode.series_id == series.id))
    }
    created = 0
    for data in episodes:
        episode = known.get(data["id"])
        if episode is None:
            episode = Episode(series_id=series.id, tvmaze_id=data["id"])
            db.session.add(episode)
            created += 1
        apply_episode(episode, data)
    series.upstream_state = "ok"
    series.last_error = None
    series.data_last_updated_at = utcnow()
    db.session.commit()
    return f"Imported {series.name}: {len(episodes)} episodes ({created} new)."


def import_episode_data(episode_id: int) -> str:
    """Fetch one episode from TVmaze and update it; failures are kept on the episode."""
    episode = db.session.get(Episode, episode_id)
    if episode is None:
        raise SeriesNotFound(f"episode {episode_id} not found")
    try:
        apply_episode(episode, tvmaze().episode(episode.tvmaze_id))
    except TVmazeError as exc:
        db.session.rollback()
        episode.sync_status = SyncStatus.FAILED.value
        episode.last_error = str(exc)
        db.session.commit()
        raise
    db.session.commit()
    return f"Updated {episode.code} {episode.name or ''}".rstrip() + "."


def sync_pending_episodes(series_id: int, report=None) -> str:
    """Fetch every pending episode of a series, skipping synced ones; returns counts."""
    ids = list(
        db.session.scalars(
            select(Episode.id)
            .where(Episode.series_id == series_id, Episode.sync_status == SyncStatus.PENDING.value)
            .order_by(Episode.season, Episode.number)
        )
    )
    synced = failed = 0
    for done, episode_id in enumerate(ids, start=1):
        try:
            import_episode_data(episode_id)
            synced += 1
        except ShowNotFound:
            failed += 1
        if report:
            report(progress=done * 100 / len(ids), message=f"{done} of {len(ids)} episodes")
    return f"Synced {synced} pending episodes, {failed} failed."


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


# -- failed episode syncs -------------------------------------------------------------------


def failed_episode_syncs(
    series_id: int | None = None, user_id: int | None = None
) -> dict[int, int]:
    """Series id -> number of failed episode syncs, for one series or one user's series;
    SeriesError when that series or user does not exist."""
    if series_id is not None:
        get_series(series_id)
    if user_id is not None and db.session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    stmt = (
        select(Episode.series_id, func.count())
        .where(Episode.sync_status == SyncStatus.FAILED.value)
        .group_by(Episode.series_id)
        .order_by(Episode.series_id)
    )
    if series_id is not None:
        stmt = stmt.where(Episode.series_id == series_id)
    if user_id is not None:
        stmt = stmt.join(Series, Series.id == Episode.series_id).where(
            Series.added_by_id == user_id
        )
    return dict(db.session.execute(stmt).all())


def reset_failed_episodes(series_ids: list[int]) -> int:
    """Set the failed episode syncs of these series back to pending, their error cleared;
    returns how many."""
    result = db.session.execute(
        update(Episode)
        .where(Episode.series_id.in_(series_ids), Episode.sync_status == SyncStatus.FAILED.value)
        .values(sync_status=SyncStatus.PENDING.value, last_error=None)
    )
    db.session.commit()
    return result.rowcount


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


# -- showing --------------------------------------------------------------------------------


def freshness(series: Series, stale_after_hours: float = 24) -> str:
    """never / fresh / stale, at a glance."""
    if series.data_last_updated_at is None:
        return "never"
    if series.data_last_updated_at < utcnow() - timedelta(hours=stale_after_hours):
        return "stale"
    return "fresh"


# The columns the series list sorts by (each indexed).
SERIES_SORTS = {
    "id": Series.id,
    "name": Series.name,
    "data_last_updated_at": Series.data_last_updated_at,
}


def series_matching(query: str | None) -> Select:
    """Series whose name contains ``query``, or whose id, TVmaze id or TheTVDB id it is."""
    stmt = select(Series)
    if query:
        like = f"%{query.strip()}%"
        conditions = [Series.name.ilike(like)]
        if query.strip().isdigit():
            number = int(query.strip())
            conditions += [
                Series.tvmaze_id == number,
                Series.tvdb_id == number,
                Series.id == number,
            ]
        stmt = stmt.where(or_(*conditions))
    return stmt


def last_jobs_for(source_type: str, ids: list[int]) -> dict[int, JobLog]:
    """The newest job for each of these records."""
    if not ids:
        return {}
    newest = (
        select(func.max(JobLog.id))
        .where(JobLog.source_type == source_type, JobLog.source_id.in_(ids))
        .group_by(JobLog.source_id)
    )
    jobs = db.session.scalars(select(JobLog).where(JobLog.id.in_(newest)))
    return {job.source_id: job for job in jobs}
