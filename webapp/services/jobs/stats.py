"""Counts of the job logs: waiting per queue, by status, queue and task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, cast, func, literal, select, text, union, union_all
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.job_counts import NOBODY, JobCount, JobCountChange
from webapp.models.jobs import ACTIVE_STATUSES, QUEUES, DeletedRetry, JobLog, JobStatus
from webapp.services.jobs.filters import FailedFilters, failed_jobs_query
from webapp.services.ownership import Viewer, visible_jobs


def queue_counts(viewer: Viewer | None = None) -> dict[str, int]:
    """Waiting jobs per queue, running jobs, and failed jobs not yet retried (of the jobs
    ``viewer`` may see)."""
    counts = {queue: 0 for queue in QUEUES}
    visible = visible_jobs(viewer)
    rows = db.session.execute(
        select(JobLog.queue, func.count())
        .where(JobLog.status == JobStatus.PENDING.value, visible)
        .group_by(JobLog.queue)
    )
    for queue, count in rows:
        counts[queue] = count
    counts["running"] = db.session.scalar(
        select(func.count()).where(JobLog.status == JobStatus.RUNNING.value, visible)
    )
    counts["failed"] = failed_count(FailedFilters(viewer=viewer))
    return counts


def failed_count(filters: FailedFilters | None = None) -> int:
    """How many jobs the failed list shows (with these filters): what a flush deletes.

    Filtered by task and queue at most, it is the failed jobs the database counts
    (``job_counts``) less those that were retried, found from the retries (a partial index),
    so it costs the same however many jobs failed; other filters count the list itself."""
    f = filters or FailedFilters()
    if f.error or f.since or f.until:
        query = failed_jobs_query(f)
        return db.session.scalar(select(func.count()).select_from(query.subquery()))
    failed = sum(
        row.count
        for row in counted_jobs(f.viewer)
        if row.status == JobStatus.FAILED.value
        and (not f.task or row.task == f.task)
        and (not f.queue or row.queue == f.queue)
    )
    retry = aliased(JobLog)
    retried = union(
        select(retry.retry_of).where(retry.retry_of.is_not(None)), select(DeletedRetry.retry_of)
    )
    stmt = select(func.count()).where(
        JobLog.id.in_(retried), JobLog.status == JobStatus.FAILED.value, visible_jobs(f.viewer)
    )
    if f.task:
        stmt = stmt.where(JobLog.task == f.task)
    if f.queue:
        stmt = stmt.where(JobLog.queue == f.queue)
    return failed - db.session.scalar(stmt)


def job_stats(viewer: Viewer | None = None) -> dict[str, Any]:
    """Counts by status, by queue and by task, failures in the last hour and mean durations,
    of the jobs ``viewer`` may see; from the counts the database keeps (``job_counts``), so
    reading them costs the same at ten job logs or ten million."""
    by_status = {status.value: 0 for status in JobStatus}
    by_queue: dict[str, dict[str, int]] = {q: {s.value: 0 for s in JobStatus} for q in QUEUES}
    per_task: dict[str, dict[str, Any]] = {}
    timed = 0
    duration_sum = 0.0
    for row in counted_jobs(viewer):
        if not row.count:  # every job of that kind has gone: a scan would not see the key
            continue
        by_status[row.status] = by_status.get(row.status, 0) + row.count
        queue = by_queue.setdefault(row.queue, {s.value: 0 for s in JobStatus})
        queue[row.status] = queue.get(row.status, 0) + row.count
        task = per_task.setdefault(
            row.task, {"total": 0, "completed": 0, "failed": 0, "timed": 0, "duration": 0.0}
        )
        task["total"] += row.count
        if row.status == JobStatus.COMPLETED.value:
            task["completed"] += row.count
            task["timed"] += row.timed
            task["duration"] += row.duration_sum
            timed += row.timed
            duration_sum += row.duration_sum
        elif row.status == JobStatus.FAILED.value:
            task["failed"] += row.count
    by_task = [
        {
            "task": name,
            "total": task["total"],
            "completed": task["completed"],
            "failed": task["failed"],
            "avg_duration_s": _mean(task["duration"], task["timed"]),
        }
        for name, task in per_task.items()  # in the database's order of task names
    ]
    hour_ago = utcnow() - timedelta(hours=1)
    # the status in a FILTER, not in the WHERE clause or a GROUP BY: SQLite would then read
    # every failed job by the status index, where the jobs finished in the last hour are a
    # short range of the finished_at index
    failed_last_hour = db.session.scalar(
        select(func.count().filter(JobLog.status == JobStatus.FAILED.value)).where(
            JobLog.finished_at >= hour_ago, visible_jobs(viewer)
        )
    )
    return {
        "by_status": by_status,
        "by_queue": by_queue,
        "by_task": by_task,
        "failed_last_hour": failed_last_hour,
        "avg_duration_s": _mean(duration_sum, timed),
    }


def counted_jobs(viewer: Viewer | None = None) -> list[Any]:
    """The jobs ``viewer`` may see, counted per task, queue and status (``count``, ``timed``,
    ``duration_sum``): the finished ones from the counts the database keeps (folded, plus the
    changes not folded in yet), the pending and running ones by the status index."""
    kept = [
        select(
            table.c.owner, table.c.task, table.c.queue, table.c.status,
            table.c.count, table.c.timed, table.c.duration_sum,
        )
        for table in (JobCount.__table__, JobCountChange.__table__)
    ]  # fmt: skip
    owner = func.coalesce(JobLog.user_id, NOBODY)
    active = (
        select(
            owner, JobLog.task, JobLog.queue, JobLog.status,
            func.count(), literal(0), literal(0.0),
        )
        .where(JobLog.status.in_(ACTIVE_STATUSES))
        .group_by(owner, JobLog.task, JobLog.queue, JobLog.status)
    )  # fmt: skip
    every = union_all(*kept, active).subquery()
    stmt = (
        select(
            every.c.task,
            every.c.queue,
            every.c.status,
            # (PostgreSQL's sum of a bigint is a numeric, which Python reads as a Decimal)
            cast(func.sum(every.c.count), BigInteger).label("count"),
            cast(func.sum(every.c.timed), BigInteger).label("timed"),
            func.sum(every.c.duration_sum).label("duration_sum"),
        )
        .group_by(every.c.task, every.c.queue, every.c.status)
        .order_by(every.c.task)
    )
    if viewer is not None and not viewer.is_admin:
        stmt = stmt.where(every.c.owner.in_((NOBODY, viewer.user_id)))
    return list(db.session.execute(stmt))


def fold_job_count_changes() -> int:
    """Fold the changes PostgreSQL's triggers appended into ``job_counts`` (one statement, so
    a change is either still pending or folded, never both); returns how many it folded."""
    if db.engine.dialect.name != "postgresql":
        return 0
    result = db.session.execute(text(FOLD))
    db.session.commit()
    return result.rowcount


FOLD = """
    WITH moved AS (
        DELETE FROM job_count_changes
        RETURNING owner, task, queue, status, count, timed, duration_sum
    ), summed AS (
        SELECT owner, task, queue, status, sum(count) AS count, sum(timed) AS timed,
               sum(duration_sum) AS duration_sum
        FROM moved GROUP BY owner, task, queue, status
    )
    INSERT INTO job_counts AS kept (owner, task, queue, status, count, timed, duration_sum)
    SELECT * FROM summed
    ON CONFLICT (owner, task, queue, status) DO UPDATE SET
        count = kept.count + excluded.count,
        timed = kept.timed + excluded.timed,
        duration_sum = kept.duration_sum + excluded.duration_sum
"""


def _mean(total: float, count: int) -> float | None:
    return round(float(total) / count, 3) if count else None
