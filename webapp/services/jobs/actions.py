"""Mending job logs: cancel, retry, delete and flush, each audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Integer, any_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import ARRAY

from jobkit import Call, huey, task_named
from jobkit.recorder import recorder
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import FINISHED_STATUSES, RETRYABLE_STATUSES, DeletedRetry, JobLog
from webapp.services import audit
from webapp.services.jobs.filters import FailedFilters, JobError
from webapp.services.jobs.reading import failed_job_ids, get_job


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
    chunk_size: int = RETRY_CHUNK,
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
            if job.status not in RETRYABLE_STATUSES:
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
    return delete_job_rows(finished)


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
        deleted += delete_job_rows(job_ids[start : start + chunk_size])
    return deleted


def _one_of(column, ids: list[int] | set[int]):
    """``column IN ids``; on PostgreSQL as ``= ANY(array)``, one parameter instead of thousands
    (which cost more to send and plan than the delete itself)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


def delete_job_rows(job_ids: list[int]) -> int:
    """Delete these job logs; a deleted retry of a job that stays leaves a DeletedRetry, so that
    job does not come back onto the failed list. Returns how many were deleted."""
    if not job_ids:
        return 0
    # Only the rows this transaction really deleted count: another prune or delete may have
    # taken some of them first, and must not leave a second DeletedRetry for the same job.
    deleted = db.session.execute(
        delete(JobLog).where(_one_of(JobLog.id, job_ids)).returning(JobLog.id, JobLog.retry_of)
    ).all()
    gone = {job_id for job_id, _ in deleted}
    if gone:
        db.session.execute(delete(DeletedRetry).where(_one_of(DeletedRetry.retry_of, gone)))
    retries = [
        {"job_id": job_id, "retry_of": retry_of, "deleted_at": utcnow()}
        for job_id, retry_of in deleted
        if retry_of is not None and retry_of not in gone
    ]
    if retries:
        db.session.execute(DeletedRetry.__table__.insert(), retries)
    db.session.commit()
    return len(gone)
