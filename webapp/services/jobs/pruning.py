"""Retention: finished job logs older than N days deleted a chunk at a time, each chunk its own
short transaction, so that pages and workers go on while millions of rows go; then the space
is handed back for reuse (PostgreSQL: ``VACUUM``, not FULL; SQLite: an incremental vacuum)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, text

from webapp.boundary import day_count, days_ago
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import FINISHED_STATUSES, JobLog
from webapp.services import audit
from webapp.services.jobs.actions import delete_job_rows
from webapp.services.jobs.filters import JobQueryError

PRUNE_CHUNK = 5000


def prune_jobs(
    days: int, chunk_size: int = PRUNE_CHUNK, on_progress: Callable[[int], None] | None = None
) -> int:
    """Delete finished job logs older than ``days`` days, in chunks; returns how many.

    ``days`` beyond what a calendar holds is refused (BadRequest) rather than overflowing.
    Audited as ``jobs.cleanup`` with the number deleted. The space the rows took is made
    reusable afterwards (``reclaim_space``).
    """
    if days < 0:
        raise JobQueryError("days must be zero or more")
    cutoff = days_ago(day_count(days), utcnow())
    deleted = 0
    # Keyset on the finished_at index: each chunk starts where the last one ended, so no chunk
    # walks again over the index entries of rows already deleted (on PostgreSQL they stay in
    # the index until a vacuum, and a scan from the start would read them all every time).
    since = None
    while True:
        stmt = select(JobLog.id, JobLog.finished_at).where(
            JobLog.finished_at < cutoff, JobLog.status.in_(FINISHED_STATUSES)
        )
        if since is not None:
            stmt = stmt.where(JobLog.finished_at >= since)
        rows = db.session.execute(stmt.order_by(JobLog.finished_at).limit(chunk_size)).all()
        if not rows:
            break
        since = rows[-1].finished_at
        deleted += delete_job_rows([row.id for row in rows])
        if on_progress:
            on_progress(deleted)
    audit.record("jobs.cleanup", count=deleted, filters={"days": days})
    db.session.commit()
    if deleted:
        reclaim_space()
    return deleted


def reclaim_space() -> None:
    """Make the space of deleted job logs reusable: PostgreSQL's ``VACUUM`` (not FULL: it
    takes no lock that stops readers or writers) marks it free for new rows; on SQLite,
    an incremental vacuum gives free pages back to the file system when the file was made
    with ``auto_vacuum=INCREMENTAL`` (every file the app creates), and SQLite reuses them
    for new rows either way."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("VACUUM (ANALYZE) job_logs"))
            conn.execute(text("VACUUM job_tags"))
        else:
            # executescript steps the pragma to its end (execute frees one page a step)
            conn.connection.driver_connection.executescript("PRAGMA incremental_vacuum")
