"""Job logs and queue counts over the API."""

from flask_login import current_user

from webapp.api.routing import api_route
from webapp.api.schemas import (
    CleanupQuery,
    Deleted,
    JobLog,
    JobLogPage,
    JobLogQuery,
    JobStats,
    QueueCounts,
    RetryInput,
)
from webapp.models.users import Role
from webapp.services import job_changes
from webapp.services import jobs as job_service
from webapp.services.jobs import JobFilters
from webapp.services.ownership import viewer_of
from webapp.services.waiting import with_waiting_reasons


@api_route("/job-logs", ["GET"], query=JobLogQuery, responses={200: JobLogPage})
def list_job_logs(query: JobLogQuery):
    """Job logs, newest first (or oldest), keyset-paginated; searchable"""
    filters = JobFilters(
        status=query.status,
        task=query.task,
        queue=query.queue,
        source_type=query.source_type,
        source_id=query.source_id,
        tag=query.tag,
        batch_id=query.batch_id,
        q=query.q,
        since=query.since,
        until=query.until,
        viewer=viewer_of(current_user),
    )
    items, next_cursor = job_service.list_jobs(
        filters, query.limit, query.cursor, oldest_first=query.order == "oldest"
    )
    return {"items": with_waiting_reasons(items), "next_cursor": next_cursor}


@api_route("/job-logs/stats", ["GET"], responses={200: JobStats})
def job_log_stats():
    """Counts by status, queue and task; failures in the last hour"""
    return job_service.job_stats(viewer_of(current_user))


@api_route("/job-logs/<int:job_id>", ["GET"], responses={200: JobLog})
def get_job_log(job_id: int):
    """One job log"""
    return with_waiting_reasons([job_service.get_job(job_id, viewer_of(current_user))])[0]


@api_route(
    "/job-logs/<int:job_id>/cancel",
    ["POST"],
    role=Role.OPERATOR,
    responses={200: JobLog},
    errors=[409],
)
def cancel_job_log(job_id: int):
    """Cancel a pending job, or ask a running one to stop (operator)"""
    job_service.get_job(job_id, viewer_of(current_user))  # another user's job is not found
    return job_service.cancel_job(job_id).to_dict()


@api_route(
    "/job-logs/<int:job_id>/retry",
    ["POST"],
    role=Role.OPERATOR,
    body=RetryInput,
    body_required=False,
    responses={202: JobLog},
    errors=[409],
)
def retry_job_log(job_id: int, body: RetryInput | None):
    """Retry a failed or cancelled job as a new job (operator)

    With `{"kwargs": {...}}` the new job runs with those arguments changed, each checked
    against the task's signature before anything is queued (422 naming what does not fit)."""
    job_service.get_job(job_id, viewer_of(current_user))  # another user's job is not found
    if body is None or body.kwargs is None:
        new_id = job_service.retry_job(job_id, current_user.id)
    else:
        new_id = job_changes.retry_with_changes(job_id, body.kwargs, current_user.id)
    return with_waiting_reasons([job_service.get_job(new_id)])[0], 202


@api_route(
    "/job-logs/cleanup",
    ["DELETE"],
    role=Role.ADMIN,
    query=CleanupQuery,
    responses={200: Deleted},
)
def cleanup_job_logs(query: CleanupQuery):
    """Delete finished job logs older than N days (admin)"""
    return {"deleted": job_service.prune_jobs(query.days)}


@api_route("/queues", ["GET"], responses={200: QueueCounts})
def queues():
    """Waiting jobs per queue, running and failed counts"""
    return job_service.queue_counts(viewer_of(current_user))
