"""Records that follow their job: an import or an export never stays pending or running once
the last job that worked for it has ended, whatever ended it (an error, a cancel, a timeout, a
lost worker, a job cancelled before it started)."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import FINISHED_STATUSES, JobLog, JobStatus
from webapp.models.transfers import Export, Import

FOLLOWERS = ((Import, "import"), (Export, "export"))
UNFINISHED = ("pending", "running")


def settle_records_of_ended_jobs() -> int:
    """Give every unfinished import and export whose latest job has ended that job's outcome
    (``cancelled``, else ``failed`` with the job's error); returns how many were settled."""
    settled = 0
    for model, source_type in FOLLOWERS:
        latest_job = (
            select(func.max(JobLog.id))
            .where(JobLog.source_type == source_type, JobLog.source_id == model.id)
            .correlate(model)
            .scalar_subquery()
        )
        rows = db.session.execute(
            select(model, JobLog.status, JobLog.error)
            .join(JobLog, JobLog.id == latest_job)
            .where(model.status.in_(UNFINISHED), JobLog.status.in_(FINISHED_STATUSES))
        ).all()
        for record, job_status, job_error in rows:
            cancelled = job_status == JobStatus.CANCELLED.value
            record.status = "cancelled" if cancelled else "failed"
            record.error = record.error or job_error or "Its job ended before it finished."
            record.finished_at = utcnow()
        settled += len(rows)
    db.session.commit()
    return settled
