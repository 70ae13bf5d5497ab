"""Housekeeping tasks."""

from jobkit.context import current_job
from jobkit.tracking import tracked_task
from webapp.services import audit, jobs


@tracked_task(queue="low", tags=("system",))
def prune_job_logs(days: int) -> str:
    """Delete finished job logs older than ``days`` days."""
    deleted = jobs.prune_jobs(
        days, on_progress=lambda n: current_job().report(message=f"{n} deleted")
    )
    return f"Deleted {deleted} finished job logs older than {days} days."


@tracked_task(queue="low", tags=("system",))
def prune_audit_log(days: int) -> str:
    """Delete audit rows older than ``days`` days."""
    deleted = audit.prune(days)
    return f"Deleted {deleted} audit rows older than {days} days."
