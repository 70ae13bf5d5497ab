"""Series and episodes: adding them, importing their data from TVmaze, failed episode syncs,
and showing them. Finding the ones that need a data job is in ``series_work``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, update

from webapp.boundary import MAX_ID
from webapp.exceptions import Conflict, Invalid, NotFound
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.series import Episode, Series, SyncStatus
from webapp.models.users import User
from webapp.services import audit
from webapp.services.tvmaze import ShowNotFound, TVmazeError, tvmaze


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
    db.session.flush()
    audit.record(
        "series.add", ("series", series.id), changes={"tvmaze_id": tvmaze_id, "tvdb_id": tvdb_id}
    )
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
        words = query.strip()
        # A number is also an id, when it is one a column can hold ("²" and 2⁶⁴ are only text).
        if words.isascii() and words.isdigit() and int(words) <= MAX_ID:
            number = int(words)
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
