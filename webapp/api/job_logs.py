from flask import abort, jsonify
from flask_login import current_user

from webapp.api.blueprint import bp
from webapp.api.params import int_arg, str_arg, time_arg
from webapp.auth import role_required
from webapp.models.users import Role
from webapp.services import jobs as job_service
from webapp.services.jobs import JobFilters
from webapp.services.ownership import viewer_of


@bp.get("/job-logs")
def list_job_logs():
    filters = JobFilters(
        status=str_arg("status"),
        task=str_arg("task"),
        queue=str_arg("queue"),
        source_type=str_arg("source_type"),
        source_id=int_arg("source_id"),
        batch_id=int_arg("batch_id"),
        q=str_arg("q"),
        since=time_arg("since"),
        until=time_arg("until"),
        viewer=viewer_of(current_user),
    )
    order = str_arg("order") or "newest"
    if order not in ("newest", "oldest"):
        abort(400, "order must be newest or oldest")
    limit = int_arg("limit", default=50, minimum=1)
    if limit > 500:
        abort(400, "limit must be at most 500")
    items, next_cursor = job_service.list_jobs(
        filters, limit, int_arg("cursor", minimum=1), oldest_first=order == "oldest"
    )
    return jsonify({"items": [job.to_dict() for job in items], "next_cursor": next_cursor})


@bp.get("/job-logs/stats")
def job_log_stats():
    return jsonify(job_service.job_stats(viewer_of(current_user)))


@bp.get("/job-logs/<int:job_id>")
def get_job_log(job_id: int):
    return jsonify(job_service.get_job(job_id, viewer_of(current_user)).to_dict())


@bp.post("/job-logs/<int:job_id>/cancel")
@role_required(Role.OPERATOR)
def cancel_job_log(job_id: int):
    job_service.get_job(job_id, viewer_of(current_user))  # another user's job is not found
    return jsonify(job_service.cancel_job(job_id).to_dict())


@bp.post("/job-logs/<int:job_id>/retry")
@role_required(Role.OPERATOR)
def retry_job_log(job_id: int):
    job_service.get_job(job_id, viewer_of(current_user))
    new_id = job_service.retry_job(job_id, current_user.id)
    return jsonify(job_service.get_job(new_id).to_dict()), 202


@bp.delete("/job-logs/cleanup")
@role_required(Role.ADMIN)
def cleanup_job_logs():
    days = int_arg("days", minimum=0)
    if days is None:
        abort(400, "days is required: delete finished job logs older than that many days")
    return jsonify({"deleted": job_service.prune_jobs(days)})


@bp.get("/queues")
def queues():
    return jsonify(job_service.queue_counts(viewer_of(current_user)))
