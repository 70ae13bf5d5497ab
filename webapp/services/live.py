"""What a live page shows, reduced to a version: the same version means the same page, so a
poll that finds nothing new is answered "304 Not Modified" without building the page.

A version is made of cheap reads only (counts over indexes, a handful of rows, the small
tables), never the roll-ups' minute rows, the wait-time sample or the rendering. Times that
tick (a running job's duration, the wait for a retry, the clock) tick in the browser; the
windows that slide (the last hour, the last day) slide once a minute, so the minute is part of
a version.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from jobkit import pauses
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import Alert, JobLog, JobStatus
from webapp.services import consumers, metrics
from webapp.services.jobs import JobFilters, list_jobs, queue_counts
from webapp.services.ownership import Viewer, visible_jobs
from webapp.services.waiting import waiting_counts, waiting_reasons

# Columns a page never shows in a row or a status line (the job page adds them itself).
_UNSHOWN = {"arguments", "payload", "traceback", "attempt_errors"}
_ROW_COLUMNS = [c.key for c in JobLog.__table__.columns if c.key not in _UNSHOWN]
# Buffered job-log writes land this long after the time they record, at most.
_LATE_WRITES = timedelta(seconds=2 * metrics.SETTLE_SECONDS)


def running_per_queue(viewer: Viewer | None = None) -> dict[str, int]:
    """Running jobs per queue (of those ``viewer`` may see): one grouped count."""
    rows = db.session.execute(
        select(JobLog.queue, func.count())
        .where(JobLog.status == JobStatus.RUNNING.value, visible_jobs(viewer))
        .group_by(JobLog.queue)
    )
    return {queue: count for queue, count in rows}


def job_row_version(job: JobLog) -> tuple:
    """Everything a job's row can show of it."""
    return tuple(getattr(job, key) for key in _ROW_COLUMNS) + (tuple(job.tags),)


def jobs_version(jobs: list[JobLog]) -> tuple:
    """A list of job rows with each pending one's waiting reason."""
    reasons = waiting_reasons(jobs)
    return tuple(
        (job_row_version(job), reasons[job.id].message if job.id in reasons else None)
        for job in jobs
    )


def _finished_lately(now: datetime) -> tuple:
    """Which jobs finished since the start of the minute before, with room for late writes: a
    job finishing changes it, however late its write arrives within the window."""
    since = datetime.fromtimestamp(int(now.timestamp()) // 60 * 60, now.tzinfo) - _LATE_WRITES
    return tuple(
        db.session.execute(
            select(func.count(), func.sum(JobLog.id), func.max(JobLog.finished_at)).where(
                JobLog.finished_at >= since
            )
        ).one()
    )


def dashboard_version(viewer: Viewer, now: datetime | None = None) -> tuple[Any, ...]:
    """The dashboard's version for ``viewer``: it changes whenever what the dashboard shows
    changes (jobs queued, started, finished, changed; pauses, consumers, alerts, schedules;
    and once a minute, as its windows slide)."""
    now = now or utcnow()
    recent, _ = list_jobs(JobFilters(viewer=viewer), limit=10)
    return (
        int(now.timestamp()) // 60,
        tuple(sorted(queue_counts(viewer).items())),
        tuple(sorted(running_per_queue(viewer).items())),
        tuple(sorted(waiting_counts(viewer).items())),
        jobs_version(recent),
        _finished_lately(now),
        tuple((p.kind, p.name, p.paused_at) for p in pauses.paused()),
        tuple((c.id, c.workers) for c in consumers.live_consumers()),
        tuple(
            db.session.execute(select(Alert.id, Alert.message).where(Alert.cleared_at.is_(None)))
        ),
        tuple(
            (
                s.id,
                s.name,
                s.command,
                s.next_run_at,
                last.id if last else None,
                last.status if last else None,
            )
            for s, last in metrics.schedules_due_next()
        ),  # fmt: skip
    )


def job_version(job: JobLog) -> tuple[Any, ...]:
    """Everything a job's page shows of the job itself: all its columns and its tags."""
    return tuple(getattr(job, c.key) for c in JobLog.__table__.columns) + (tuple(job.tags),)
