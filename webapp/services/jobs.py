"""Reading and mending job logs: lists, statistics, cancel, retry and prune."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    delete,
    exists,
    false,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import aliased

from jobkit import Call, huey, task_named
from jobkit.recorder import recorder
from webapp.boundary import day_count, days_ago
from webapp.exceptions import BadRequest, Conflict, NotFound
from webapp.extensions import db
from webapp.models.base import query_time, utcnow
from webapp.models.jobs import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    QUEUES,
    DeletedRetry,
    JobLog,
    JobStatus,
    JobTag,
)
from webapp.models.search import PG_SEARCH_TEXT
from webapp.services import audit
from webapp.services.ownership import Viewer, unseen, visible_jobs


class JobError(Conflict):
    """A job that is not in a state that allows this (a finished job cannot be cancelled)."""


class JobNotFound(NotFound, JobError):
    """No job log with this id."""


class JobQueryError(BadRequest, JobError):
    """A filter or limit that cannot be used: a status or queue that does not exist."""


@dataclass(frozen=True)
class JobFilters:
    """The filters offered by /jobs, the API and ``jobs list``; None means any."""

    status: str | None = None
    task: str | None = None
    queue: str | None = None
    source_type: str | None = None
    source_id: int | None = None
    batch_id: int | None = None
    user_id: int | None = None
    # Words in the arguments, payload or error (full-text: FTS5 or a trigram index).
    q: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    tag: str | None = None
    # Who is looking: only the jobs they may see (None: every job, for commands and tasks).
    viewer: Viewer | None = None

    def validate(self) -> None:
        """Raise JobQueryError for a status or queue that cannot exist."""
        if self.status and self.status not in list(JobStatus):
            raise JobQueryError(
                f"unknown status {self.status!r}; use one of {', '.join(JobStatus)}"
            )
        if self.queue and self.queue not in QUEUES:
            raise JobQueryError(f"unknown queue {self.queue!r}; use one of {', '.join(QUEUES)}")

    def as_query(self) -> dict[str, Any]:
        """The filters that are set, as query-string values."""
        return {
            key: query_time(value) if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
            if value not in (None, "") and key != "viewer"
        }

    def apply(self, stmt: Select) -> Select:
        for name, value in asdict(self).items():
            if value in (None, ""):
                continue
            if name == "viewer":
                stmt = stmt.where(visible_jobs(self.viewer))
            elif name == "q":
                stmt = stmt.where(search_clause(value))
            elif name == "since":
                stmt = stmt.where(JobLog.created_at >= value)
            elif name == "until":
                stmt = stmt.where(JobLog.created_at < value)
            elif name == "tag":
                stmt = stmt.where(JobLog.id.in_(select(JobTag.job_id).where(JobTag.tag == value)))
            else:
                stmt = stmt.where(getattr(JobLog, name) == value)
        return stmt


def search_clause(words: str) -> ColumnElement[bool]:
    """Job logs whose arguments, payload or error contain ``words``: on SQLite the words as a
    phrase (the last one as a prefix) through FTS5; on PostgreSQL the text as a case-blind
    substring through the trigram index."""
    if db.engine.dialect.name == "sqlite":
        tokens = re.findall(r"\w+", words)
        if not tokens:
            return false()
        phrase = '"' + " ".join(tokens) + '" *'
        matches = text("SELECT rowid FROM job_logs_fts WHERE job_logs_fts MATCH :phrase")
        return JobLog.id.in_(matches.bindparams(phrase=phrase).columns(column("rowid")))
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return literal_column(PG_SEARCH_TEXT).ilike(f"%{escaped}%")


def list_jobs(
    filters: JobFilters, limit: int = 50, before_id: int | None = None, oldest_first: bool = False
) -> tuple[list[JobLog], int | None]:
    """Newest (or oldest) first, ``limit`` at a time; the second value is the cursor for the
    next page. Keyset paging (``id < cursor``) keeps a deep page as fast as the first one.
    """
    filters.validate()
    limit = max(1, min(limit, 500))
    stmt = filters.apply(select(JobLog))
    if before_id is not None:
        stmt = stmt.where(JobLog.id > before_id if oldest_first else JobLog.id < before_id)
    order = JobLog.id.asc() if oldest_first else JobLog.id.desc()
    rows = list(db.session.scalars(stmt.order_by(order).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


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


def active_job_for(source_type: str, source_id: int, task: str) -> JobLog | None:
    """The pending or running job of ``task`` working for one record, if there is one."""
    return db.session.scalar(
        select(JobLog)
        .where(JobLog.source_type == source_type, JobLog.source_id == source_id)
        .where(JobLog.task == task, JobLog.status.in_(ACTIVE_STATUSES))
        .order_by(JobLog.id)
        .limit(1)
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


@dataclass(frozen=True)
class FailedFilters:
    """The failed list's filters: task, queue, words in the error, and when it failed."""

    task: str | None = None
    queue: str | None = None
    error: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    viewer: Viewer | None = None  # only the jobs this user may see

    def as_query(self) -> dict[str, str]:
        values = {
            "task": self.task,
            "queue": self.queue,
            "error": self.error,
            "since": query_time(self.since) if self.since else None,
            "until": query_time(self.until) if self.until else None,
        }
        return {key: value for key, value in values.items() if value}


def failed_jobs_query(filters: FailedFilters | None = None) -> Select:
    """Failed jobs that nobody has retried yet: the failed list."""
    retry = aliased(JobLog)
    stmt = (
        select(JobLog)
        .where(JobLog.status == JobStatus.FAILED.value)
        .where(~exists().where(retry.retry_of == JobLog.id))
        .where(~exists().where(DeletedRetry.retry_of == JobLog.id))
    )
    f = filters or FailedFilters()
    if f.viewer is not None:
        stmt = stmt.where(visible_jobs(f.viewer))
    if f.task:
        stmt = stmt.where(JobLog.task == f.task)
    if f.queue:
        stmt = stmt.where(JobLog.queue == f.queue)
    if f.error:
        stmt = stmt.where(JobLog.error.ilike(f"%{f.error}%"))
    if f.since:
        stmt = stmt.where(JobLog.finished_at >= f.since)
    if f.until:
        stmt = stmt.where(JobLog.finished_at < f.until)
    return stmt


def cancel_job(job_id: int) -> JobLog:
    """Cancel a pending job (it will never run) or ask a running one to stop at its next report;
    audited as ``job.cancel``."""
    job = _cancel(job_id)
    audit.record("job.cancel", ("job", job_id), changes={"status": job.status})
    db.session.commit()
    return job


def _cancel(job_id: int) -> JobLog:
    job = get_job(job_id)
    db.session.commit()  # end this session's read so that the recorder's write is seen
    if recorder.cancel_pending(db.engine, job_id, "Cancelled before it ran."):
        huey.revoke_by_id(str(job_id))
        cancelled = True
    else:
        cancelled = recorder.request_cancel(
            db.engine, job_id, "Cancel requested; the job stops at its next progress report."
        )
    db.session.refresh(job)
    if not cancelled:
        raise JobError(
            f"job {job_id} is {job.status}; only pending or running jobs can be cancelled"
        )
    return job


def cancel_jobs(job_ids: list[int]) -> tuple[list[int], list[str]]:
    """Cancel each of these jobs that is pending or running; the rest are said why not.
    One ``jobs.cancel`` audit row names the jobs cancelled."""
    cancelled: list[int] = []
    problems: list[str] = []
    for job_id in job_ids:
        try:
            _cancel(job_id)
        except JobError as exc:
            problems.append(str(exc))
        else:
            cancelled.append(job_id)
    if cancelled:
        audit.record("jobs.cancel", count=len(cancelled), records=("job", cancelled))
        db.session.commit()
    return cancelled, problems


def retry_job(job_id: int, user_id: int | None = None) -> int:
    """Run a failed or cancelled job again with the same arguments; returns the new job's id.
    Audited as ``job.retry``."""
    get_job(job_id)
    new_ids, problems = _retry(job_ids=[job_id], user_id=user_id)
    if problems:
        raise JobError(problems[0])
    audit.record("job.retry", ("job", job_id), changes={"new_job": new_ids[0]})
    db.session.commit()
    return new_ids[0]


# Jobs retried per round: one bulk dispatch per task for each.
RETRY_CHUNK = 500


def retry_jobs(
    job_ids: list[int],
    user_id: int | None = None,
    chunk_size: int = RETRY_CHUNK,
    *,
    action: str = "jobs.retry",
    filters: dict[str, Any] | None = None,
    report: Callable[..., None] | None = None,
) -> tuple[list[int], list[str]]:
    """Retry a fixed list of jobs, a chunk at a time with one bulk dispatch per task; returns
    the new ids and a message for each job that could not be retried.

    The list is fixed before the sweep starts, so jobs that fail again during it are not
    picked up again (no endless "retry all"). One audit row (``action``: ``jobs.retry``, or
    ``failed.retry_all`` with the ``filters`` that chose the jobs) counts the jobs retried.
    ``report(progress=0..100, message=…)`` hears after each chunk (the command line's bar).
    """
    new_ids, problems = _retry(job_ids, user_id, chunk_size, report)
    if new_ids or filters is not None:
        retried = [
            old_id
            for start in range(0, len(new_ids), chunk_size)
            for old_id in db.session.scalars(
                select(JobLog.retry_of).where(
                    JobLog.id.in_(new_ids[start : start + chunk_size]),
                    JobLog.retry_of.is_not(None),
                )
            )
        ]
        audit.record(action, count=len(new_ids), filters=filters, records=("job", retried))
        db.session.commit()
    return new_ids, problems


def _retry(
    job_ids: list[int],
    user_id: int | None = None,
    chunk_size: int = 500,
    report: Callable[..., None] | None = None,
) -> tuple[list[int], list[str]]:
    new_ids: list[int] = []
    problems: list[str] = []
    for start in range(0, len(job_ids), chunk_size):
        chunk = job_ids[start : start + chunk_size]
        jobs = db.session.scalars(select(JobLog).where(JobLog.id.in_(chunk)).order_by(JobLog.id))
        retried = dict(
            db.session.execute(
                select(DeletedRetry.retry_of, DeletedRetry.job_id).where(
                    DeletedRetry.retry_of.in_(chunk)
                )
            ).all()
        )
        retried |= dict(
            db.session.execute(
                select(JobLog.retry_of, JobLog.id).where(JobLog.retry_of.in_(chunk))
            ).all()
        )
        groups: dict[tuple, list] = {}
        for job in jobs:
            if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                problems.append(
                    f"job {job.id} is {job.status}; only failed or cancelled jobs can be retried"
                )
            elif job.id in retried:
                problems.append(f"job {job.id} was already retried as job {retried[job.id]}")
            elif task_named(job.task) is None:
                problems.append(f"task {job.task!r} no longer exists, so job {job.id} cannot run")
            else:
                arguments = job.arguments or {}
                source = (job.source_type, job.source_id) if job.source_type else None
                # the new job belongs to whoever owned the old one, so it stays where it was seen
                owner = job.user_id if job.user_id is not None else user_id
                key = (job.task, job.queue, job.batch_id, owner)
                groups.setdefault(key, []).append(
                    Call(
                        tuple(arguments.get("args", [])),
                        arguments.get("kwargs", {}),
                        source,
                        retry_of=job.id,
                        tags=tuple(job.tags),
                    )
                )
        for (task, queue, batch_id, owner), calls in groups.items():
            new_ids += task_named(task).dispatch_many(
                calls, user_id=owner, batch_id=batch_id, queue=queue
            )
        if report is not None:
            done = start + len(chunk)
            report(progress=done * 100 / len(job_ids), message=f"{done:,} of {len(job_ids):,}")
    return new_ids, problems


def prune_jobs(
    days: int, chunk_size: int = 5000, on_progress: Callable[[int], None] | None = None
) -> int:
    """Delete finished job logs older than ``days`` days, in chunks; returns how many.

    ``days`` beyond what a calendar holds is refused (BadRequest) rather than overflowing.
    Audited as ``jobs.cleanup`` with the number deleted.
    """
    if days < 0:
        raise JobQueryError("days must be zero or more")
    cutoff = days_ago(day_count(days), utcnow())
    deleted = 0
    while True:
        ids = list(
            db.session.scalars(
                select(JobLog.id)
                .where(JobLog.status.in_(FINISHED_STATUSES), JobLog.finished_at < cutoff)
                .limit(chunk_size)
            )
        )
        if not ids:
            audit.record("jobs.cleanup", count=deleted, filters={"days": days})
            db.session.commit()
            return deleted
        deleted += _delete_jobs(ids)
        if on_progress:
            on_progress(deleted)


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


def duration_seconds():
    """A SQL expression for a finished job's duration in seconds, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(JobLog.finished_at) - func.julianday(JobLog.started_at)) * 86400.0
    return func.extract("epoch", JobLog.finished_at - JobLog.started_at)


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


def failed_job_ids(filters: FailedFilters | None = None) -> list[int]:
    """The ids on the failed list now, oldest first: the fixed set a bulk retry works on."""
    stmt = failed_jobs_query(filters).with_only_columns(JobLog.id).order_by(JobLog.id)
    return list(db.session.scalars(stmt))


def delete_finished_jobs(job_ids: list[int]) -> int:
    """Delete these job records if they have finished; returns how many. Audited as
    ``job.delete`` (one job) or ``jobs.delete`` with the ids deleted."""
    finished = list(
        db.session.scalars(
            select(JobLog.id).where(JobLog.id.in_(job_ids), JobLog.status.in_(FINISHED_STATUSES))
        )
    )
    if len(finished) == 1:
        audit.record("job.delete", ("job", finished[0]))
    elif finished:
        audit.record("jobs.delete", count=len(finished), records=("job", sorted(finished)))
    return _delete_jobs(finished)


def failed_count(filters: FailedFilters | None = None) -> int:
    """How many jobs the failed list shows (with these filters): what a flush deletes."""
    query = failed_jobs_query(filters)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def flush_failed(filters: FailedFilters | None = None, chunk_size: int = 5000) -> int:
    """Delete exactly the failed jobs nobody has retried (the failed list, with these filters);
    returns how many. The jobs they retried stay, marked as retried by a deleted job. Audited
    as ``failed.flush`` with the filters and count, committed with the first deletion."""
    filters_shown = filters.as_query() if filters else {}
    return delete_failed_jobs(failed_job_ids(filters), "failed.flush", filters_shown, chunk_size)


def delete_failed_jobs(
    job_ids: list[int], action: str, filters: dict[str, Any], chunk_size: int = 5000
) -> int:
    """Delete a fixed list of job records a chunk at a time; returns how many. One audit row
    (``action``, with the ``filters`` that chose them and the count) commits with the first
    chunk."""
    audit.record(action, count=len(job_ids), filters=filters)
    deleted = 0
    for start in range(0, len(job_ids), chunk_size):
        deleted += _delete_jobs(job_ids[start : start + chunk_size])
    return deleted


def _delete_jobs(job_ids: list[int]) -> int:
    """Delete these job logs; a deleted retry of a job that stays leaves a DeletedRetry, so that
    job does not come back onto the failed list. Returns how many were deleted."""
    if not job_ids:
        return 0
    retries = db.session.execute(
        select(JobLog.id, JobLog.retry_of).where(
            JobLog.id.in_(job_ids), JobLog.retry_of.is_not(None), JobLog.retry_of.not_in(job_ids)
        )
    ).all()
    db.session.execute(delete(DeletedRetry).where(DeletedRetry.retry_of.in_(job_ids)))
    if retries:
        db.session.execute(
            DeletedRetry.__table__.insert(),
            [
                {"job_id": job_id, "retry_of": retry_of, "deleted_at": utcnow()}
                for job_id, retry_of in retries
            ],
        )
    result = db.session.execute(delete(JobLog).where(JobLog.id.in_(job_ids)))
    db.session.commit()
    return result.rowcount
