"""Batches: jobs dispatched together, followed together, and finished with a callback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.orm import aliased

from webapp.exceptions import NotFound
from webapp.extensions import db
from webapp.models.base import isoformat, utcnow
from webapp.models.jobs import ACTIVE_STATUSES, JobBatch, JobLog, JobStatus
from webapp.services.jobs import JobError, cancel_job, retry_jobs
from webapp.services.ownership import Viewer, unseen, visible_job_ids


class BatchError(NotFound):
    """No batch with this id."""


def create_batch(
    name: str, total: int, user_id: int | None = None, callback_task: str | None = None
) -> JobBatch:
    batch = JobBatch(name=name, total=total, user_id=user_id, callback_task=callback_task)
    db.session.add(batch)
    db.session.commit()
    return batch


def get_batch(batch_id: int) -> JobBatch:
    batch = db.session.get(JobBatch, batch_id)
    if batch is None:
        raise BatchError(f"batch {batch_id} not found")
    return batch


@dataclass
class BatchProgress:
    """A batch's members counted once each, by their latest attempt (a retry replaces the job
    it retried)."""

    batch: JobBatch
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts["completed"] + self.counts["failed"] + self.counts["cancelled"]

    @property
    def active(self) -> bool:
        """Some member's latest attempt is still waiting or running (after a retry, too)."""
        return self.done < self.total

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    def share(self, status: str) -> float:
        """The part of the bar, in percent, that members with this status take."""
        return round(100 * self.counts[status] / self.total, 2) if self.total else 0

    def to_dict(self) -> dict[str, Any]:
        b = self.batch
        return {
            "id": b.id,
            "name": b.name,
            "total": self.total,
            "done": self.done,
            "failed": self.counts["failed"],
            "progress": self.percent,
            "counts": self.counts,
            "created_at": isoformat(b.created_at),
            "cancelled_at": isoformat(b.cancelled_at),
            "finished_at": isoformat(b.finished_at),
        }


def latest_attempts(batch_id: int) -> Select:
    """The batch's jobs that no job has retried: each member's latest attempt."""
    retry = aliased(JobLog)
    return (
        select(JobLog)
        .where(JobLog.batch_id == batch_id)
        .where(~exists().where(retry.retry_of == JobLog.id))
    )


def progress(batch_id: int) -> BatchProgress:
    batch = get_batch(batch_id)
    counts = {status.value: 0 for status in JobStatus}
    latest = latest_attempts(batch_id).subquery()
    for status, count in db.session.execute(
        select(latest.c.status, func.count()).group_by(latest.c.status)
    ):
        counts[status] = count
    return BatchProgress(batch, counts)


def recent_batches(limit: int = 20) -> list[BatchProgress]:
    ids = db.session.scalars(select(JobBatch.id).order_by(JobBatch.id.desc()).limit(limit))
    return [progress(batch_id) for batch_id in ids]


def _acted_on_by(batch: JobBatch, viewer: Viewer | None) -> JobBatch:
    """The batch, when ``viewer`` may act on it: their own, an ownerless one, or any for an
    admin (or for no viewer: the CLI, the system); otherwise it is not found."""
    if viewer is not None and not viewer.is_admin and batch.user_id not in (None, viewer.user_id):
        raise BatchError(unseen(f"batch {batch.id}", "act on"))
    return batch


def cancel_batch(batch_id: int, viewer: Viewer | None = None) -> int:
    """Cancel every pending or running job of the batch that ``viewer`` may see; how many."""
    batch = _acted_on_by(get_batch(batch_id), viewer)
    ids = visible_job_ids(
        list(
            db.session.scalars(
                select(JobLog.id).where(
                    JobLog.batch_id == batch_id, JobLog.status.in_(ACTIVE_STATUSES)
                )
            )
        ),
        viewer,
    )
    for job_id in ids:
        try:
            cancel_job(job_id)
        except JobError:  # finished meanwhile
            continue
    batch.cancelled_at = utcnow()
    db.session.commit()
    return len(ids)


def failed_job_ids(batch_id: int) -> list[int]:
    """The members whose latest attempt failed: what "Retry N failed" retries."""
    return list(
        db.session.scalars(
            latest_attempts(batch_id)
            .where(JobLog.status == JobStatus.FAILED.value)
            .with_only_columns(JobLog.id)
            .order_by(JobLog.id)
        )
    )


def retry_failed(
    batch_id: int, user_id: int | None = None, viewer: Viewer | None = None
) -> list[int]:
    """Retry every member whose latest attempt failed, in the same batch (those ``viewer`` may
    see: another user's jobs are left alone); the new job ids."""
    _acted_on_by(get_batch(batch_id), viewer)
    new_ids, _ = retry_jobs(visible_job_ids(failed_job_ids(batch_id), viewer), user_id)
    return new_ids


def finish_completed_batches() -> list[JobBatch]:
    """Mark batches whose jobs have all finished; returns the ones this call finished (each is
    finished exactly once, so its callback runs once)."""
    open_ids = list(db.session.scalars(select(JobBatch.id).where(JobBatch.finished_at.is_(None))))
    finished = []
    for batch_id in open_ids:
        active = db.session.scalar(
            select(func.count()).where(
                JobLog.batch_id == batch_id, JobLog.status.in_(ACTIVE_STATUSES)
            )
        )
        if active:
            continue
        claimed = db.session.execute(
            update(JobBatch)
            .where(JobBatch.id == batch_id, JobBatch.finished_at.is_(None))
            .values(finished_at=utcnow())
        ).rowcount
        db.session.commit()
        if claimed:
            finished.append(db.session.get(JobBatch, batch_id))
    return finished
