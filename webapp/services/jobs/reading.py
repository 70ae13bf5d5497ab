"""Reading job logs: one page of a list, one job, the jobs of a record, the failed list."""

from __future__ import annotations

from sqlalchemy import func, select  # noqa: F401

from webapp.extensions import db
from webapp.models.jobs import ACTIVE_STATUSES, DeletedRetry, JobLog
from webapp.services.jobs.filters import FailedFilters, JobFilters, JobNotFound, failed_jobs_query
from webapp.services.jobs.search import duration_seconds
from webapp.services.ownership import Viewer, unseen, visible_jobs

MAX_LIMIT = 500


def _sort_column(name: str):
    return {"created": JobLog.id, "duration": duration_seconds(), "status": JobLog.status}[name]


def list_jobs(
    filters: JobFilters,
    limit: int = 50,
    before_id: int | None = None,
    oldest_first: bool | None = None,
) -> tuple[list[JobLog], int | None]:
    """One page of the jobs ``filters`` shows, ``limit`` at a time (at most MAX_LIMIT).

    In the created order (newest first, or oldest with ``order=oldest``) the second value is
    the cursor for the next page: keyset paging (``id < cursor``) keeps a deep page as fast as
    the first one; ``before_id`` and ``oldest_first`` default to the filter's. Sorted by
    duration or status, pages follow by ``filters.page`` and the second value is the next
    page's number (None on the last page); jobs without a duration come last either way.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    stmt = filters.apply(select(JobLog))
    if filters.keyset:
        before_id = filters.cursor if before_id is None else before_id
        oldest = filters.oldest_first if oldest_first is None else oldest_first
        if before_id is not None:
            stmt = stmt.where(JobLog.id > before_id if oldest else JobLog.id < before_id)
        order = JobLog.id.asc() if oldest else JobLog.id.desc()
        rows = list(db.session.scalars(stmt.order_by(order).limit(limit + 1)))
        next_cursor = rows[limit - 1].id if len(rows) > limit else None
        return rows[:limit], next_cursor
    column = _sort_column(filters.sort.lstrip("-"))
    descending = filters.sort.startswith("-")
    order = [
        (column.desc() if descending else column.asc()).nulls_last(),
        JobLog.id.desc() if descending else JobLog.id.asc(),
    ]
    stmt = stmt.order_by(*order).offset((filters.page - 1) * limit).limit(limit + 1)
    rows = list(db.session.scalars(stmt))
    return rows[:limit], filters.page + 1 if len(rows) > limit else None


def matching_job_ids(filters: JobFilters, job_ids: list[int]) -> list[int]:
    """Which of ``job_ids`` the list ``filters`` shows (so that a bulk action acts on its list's
    jobs only), in the order given."""
    wanted = list(dict.fromkeys(job_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        stmt = filters.apply(select(JobLog.id).where(JobLog.id.in_(chunk)))
        found.update(db.session.scalars(stmt))
    return [job_id for job_id in wanted if job_id in found]


def failed_page(filters: FailedFilters, limit: int) -> tuple[list[JobLog], int | None]:
    """The failed list newest first, ``limit`` at a time from ``filters.cursor`` (keyset),
    and the cursor of the next page."""
    stmt = failed_jobs_query(filters)
    if filters.cursor is not None:
        stmt = stmt.where(JobLog.id < filters.cursor)
    rows = list(db.session.scalars(stmt.order_by(JobLog.id.desc()).limit(limit + 1)))
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


def get_job(job_id: int, viewer: Viewer | None = None) -> JobLog:
    """The job log ``job_id``; JobNotFound when there is none or ``viewer`` may not see it."""
    job = db.session.get(JobLog, job_id)
    if job is not None and viewer is not None:
        job = db.session.scalar(select(JobLog).where(JobLog.id == job_id, visible_jobs(viewer)))
    if job is None and viewer is not None and not viewer.is_admin:
        raise JobNotFound(unseen(f"job #{job_id}"))
    if job is None:
        raise JobNotFound(f"job #{job_id} was deleted or never existed")
    return job


def find_job(job_id: int | None) -> JobLog | None:
    """The job log ``job_id`` if it still exists (no ownership check: for links the page has
    already decided to show)."""
    return db.session.get(JobLog, job_id) if job_id is not None else None


def jobs_for_record(
    source_type: str, source_id: int, limit: int = 20, viewer: Viewer | None = None
) -> list[JobLog]:
    """The newest jobs that worked for one record (its page's "jobs for this record")."""
    return list(
        db.session.scalars(
            select(JobLog)
            .where(JobLog.source_type == source_type, JobLog.source_id == source_id)
            .where(visible_jobs(viewer))
            .order_by(JobLog.id.desc())
            .limit(limit)
        )
    )


def retried_by(job_id: int) -> int | None:
    """The id of the job that retried ``job_id``, if any (also when that job was deleted)."""
    live = db.session.scalar(select(JobLog.id).where(JobLog.retry_of == job_id).limit(1))
    if live is not None:
        return live
    return db.session.scalar(
        select(DeletedRetry.job_id).where(DeletedRetry.retry_of == job_id).limit(1)
    )


def existing_job_ids(job_ids: list[int | None]) -> set[int]:
    """Which of these job ids still have a job log (pages link only to those)."""
    wanted = [job_id for job_id in job_ids if job_id is not None]
    if not wanted:
        return set()
    return set(db.session.scalars(select(JobLog.id).where(JobLog.id.in_(wanted))))


def failed_job_ids(filters: FailedFilters | None = None) -> list[int]:
    """The ids on the failed list now, oldest first: the fixed set a bulk retry works on."""
    stmt = failed_jobs_query(filters).with_only_columns(JobLog.id).order_by(JobLog.id)
    return list(db.session.scalars(stmt))


def active_job_for(source_type: str, source_id: int, task: str) -> JobLog | None:
    """The pending or running job of ``task`` working for one record, if there is one."""
    return db.session.scalar(
        select(JobLog)
        .where(JobLog.source_type == source_type, JobLog.source_id == source_id)
        .where(JobLog.task == task, JobLog.status.in_(ACTIVE_STATUSES))
        .order_by(JobLog.id)
        .limit(1)
    )
