"""Counts of the job logs: waiting per queue, by status, queue and task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import QUEUES, JobLog, JobStatus
from webapp.services.jobs.filters import FailedFilters, failed_jobs_query
from webapp.services.jobs.search import duration_seconds
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
    counts["failed"] = db.session.scalar(
        select(func.count()).select_from(failed_jobs_query(FailedFilters(viewer=viewer)).subquery())
    )
    return counts


def job_stats(viewer: Viewer | None = None) -> dict[str, Any]:
    """Counts by status, by queue and by task, failures in the last hour and mean durations,
    of the jobs ``viewer`` may see."""
    visible = visible_jobs(viewer)
    by_status = {status.value: 0 for status in JobStatus}
    for status, count in db.session.execute(
        select(JobLog.status, func.count()).where(visible).group_by(JobLog.status)
    ):
        by_status[status] = count
    by_queue: dict[str, dict[str, int]] = {q: {s.value: 0 for s in JobStatus} for q in QUEUES}
    for queue, status, count in db.session.execute(
        select(JobLog.queue, JobLog.status, func.count())
        .where(visible)
        .group_by(JobLog.queue, JobLog.status)
    ):
        by_queue.setdefault(queue, {s.value: 0 for s in JobStatus})[status] = count
    duration = duration_seconds()
    done = JobLog.status == JobStatus.COMPLETED.value
    by_task = [
        {
            "task": row.task,
            "total": row.total,
            "completed": row.completed or 0,
            "failed": row.failed or 0,
            "avg_duration_s": _rounded(row.avg_duration),
        }
        for row in db.session.execute(
            select(
                JobLog.task,
                func.count().label("total"),
                func.sum(func.cast(done, db.Integer)).label("completed"),
                func.sum(func.cast(JobLog.status == JobStatus.FAILED.value, db.Integer)).label(
                    "failed"
                ),
                func.avg(duration).filter(done).label("avg_duration"),
            )
            .where(visible)
            .group_by(JobLog.task)
            .order_by(JobLog.task)
        )
    ]
    hour_ago = utcnow() - timedelta(hours=1)
    failed_last_hour = db.session.scalar(
        select(func.count()).where(
            JobLog.status == JobStatus.FAILED.value, JobLog.finished_at >= hour_ago, visible
        )
    )
    avg_duration = db.session.scalar(select(func.avg(duration)).where(done, visible))
    return {
        "by_status": by_status,
        "by_queue": by_queue,
        "by_task": by_task,
        "failed_last_hour": failed_last_hour,
        "avg_duration_s": _rounded(avg_duration),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
