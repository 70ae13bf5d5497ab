"""Batches: jobs dispatched together, followed together, and finished with a callback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from webapp.exceptions import NotFound
from webapp.extensions import db
from webapp.models.base import isoformat, utcnow
from webapp.models.jobs import ACTIVE_STATUSES, JobBatch, JobLog, JobStatus
from webapp.services.jobs import JobError, cancel_job, failed_jobs_query


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
    batch: JobBatch
    counts: dict[str, int]

    @property
    def done(self) -> int:
        return self.counts["completed"] + self.counts["failed"] + self.counts["cancelled"]

    @property
    def percent(self) -> int:
        total = sum(self.counts.values())
        return round(100 * self.done / total) if total else 100

    def to_dict(self) -> dict[str, Any]:
        b = self.batch
        return {
            "id": b.id,
            "name": b.name,
            "total": sum(self.counts.values()),
            "done": self.done,
            "failed": self.counts["failed"],
            "progress": self.percent,
            "counts": self.counts,
            "created_at": isoformat(b.created_at),
            "cancelled_at": isoformat(b.cancelled_at),
            "finished_at": isoformat(b.finished_at),
        }


def progress(batch_id: int) -> BatchProgress:
    batch = get_batch(batch_id)
    counts = {status.value: 0 for status in JobStatus}
    for status, count in db.session.execute(
        select(JobLog.status, func.count())
        .where(JobLog.batch_id == batch_id)
        .group_by(JobLog.status)
    ):
        counts[status] = count
    return BatchProgress(batch, counts)


def recent_batches(limit: int = 20) -> list[BatchProgress]:
    ids = db.session.scalars(select(JobBatch.id).order_by(JobBatch.id.desc()).limit(limit))
    return [progress(batch_id) for batch_id in ids]


def cancel_batch(batch_id: int) -> int:
    """Cancel every pending job of the batch; returns how many."""
    batch = get_batch(batch_id)
    ids = list(
        db.session.scalars(
            select(JobLog.id).where(JobLog.batch_id == batch_id, JobLog.status.in_(ACTIVE_STATUSES))
        )
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
    return list(
        db.session.scalars(
            failed_jobs_query().with_only_columns(JobLog.id).where(JobLog.batch_id == batch_id)
        )
    )


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
