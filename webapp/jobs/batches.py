"""Batch pages: progress of jobs dispatched together, cancel, retry the failed ones."""

from flask import abort, flash, redirect, url_for
from flask_login import current_user, login_required

from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.jobs.routes import bp
from webapp.models.users import Role
from webapp.services import batches
from webapp.services import jobs as job_service
from webapp.services.jobs import JobFilters
from webapp.services.ownership import viewer_of
from webapp.services.waiting import waiting_reasons
from webapp.templating import render_page


@bp.route("batches")
@login_required
def batch_list():
    recent = batches.recent_batches(50)
    return render_page(
        "jobs/batches.html",
        ("batch_table",),
        live=True,
        batches=recent,
        any_open=any(b.active or b.batch.finished_at is None for b in recent),
    )


def batch_context(batch_id: int) -> dict:
    progress = batches.progress(batch_id)
    jobs, _ = job_service.list_jobs(
        JobFilters(batch_id=batch_id, viewer=viewer_of(current_user)), limit=20
    )
    return {"b": progress, "jobs": jobs, "reasons": waiting_reasons(jobs), "form": ActionForm()}


@bp.route("batches/<int:batch_id>")
@login_required
def batch(batch_id: int):
    return render_page("jobs/batch.html", ("batch_status",), live=True, **batch_context(batch_id))


@bp.route("batches/<int:batch_id>/cancel", methods=["POST"])
@role_required(Role.OPERATOR)
def cancel_batch(batch_id: int):
    batch_context(batch_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    cancelled = batches.cancel_batch(batch_id, viewer_of(current_user))
    flash(f"Cancelled {cancelled} unfinished job(s).", "success")
    return redirect(url_for("jobs.batch", batch_id=batch_id))


@bp.route("batches/<int:batch_id>/retry-failed", methods=["POST"])
@role_required(Role.OPERATOR)
def retry_batch(batch_id: int):
    batch_context(batch_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    new_ids = batches.retry_failed(batch_id, current_user.id, viewer_of(current_user))
    flash(f"Retried {len(new_ids)} failed job(s) of the batch.", "success")
    return redirect(url_for("jobs.batch", batch_id=batch_id))
