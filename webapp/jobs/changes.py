"""Retry with changes: a failed or cancelled job's arguments as a form, checked against the
task's signature before the new job is queued."""

import json

from flask import flash, redirect, url_for
from flask_login import current_user

from webapp.auth import role_required
from webapp.exceptions import BadRequest, Conflict, Invalid
from webapp.jobs.forms import RetryChangesForm
from webapp.jobs.routes import bp
from webapp.models.users import Role
from webapp.services import job_changes
from webapp.services import jobs as job_service
from webapp.services.ownership import viewer_of
from webapp.templating import render_page


def _page(job, form: RetryChangesForm, problem: str | None = None, status: int = 200):
    page = render_page(
        "jobs/retry_changes.html",
        ("retry_form",),
        job=job,
        form=form,
        problem=problem,
        parameters=job_changes.task_parameters(job),
    )
    return page, status


@bp.route("jobs/<int:job_id>/retry-with-changes", methods=["GET", "POST"])
@role_required(Role.OPERATOR)
def retry_with_changes(job_id: int):
    """GET: the job's arguments (secrets redacted) in a form; POST: the new job, or the form
    again saying what does not fit, with nothing queued. A job that cannot be retried (not
    failed or cancelled, already retried) goes back to its page, which says why."""
    job = job_service.get_job(job_id, viewer_of(current_user))  # another user's job: 404
    form = RetryChangesForm()
    try:
        job_changes.retryable(job)
        if not form.is_submitted():
            form.arguments.data = json.dumps(job_changes.shown_arguments(job), indent=2)
            return _page(job, form)
        if not form.validate():
            return _page(job, form, "the form expired; reload the page and try again", 400)
        arguments = job_changes.parse_arguments(form.arguments.data or "", "arguments")
        new_id = job_changes.retry_with_changes(
            job.id, arguments, current_user.id, replace=True, field="arguments"
        )
    except (Invalid, BadRequest) as exc:
        return _page(job, form, exc.message, exc.status)
    except Conflict as exc:
        flash(str(exc), "error")
        return redirect(url_for("jobs.show", job_id=job.id))
    flash(f"Job {job.id} retried with changes as job {new_id}.", "success")
    return redirect(url_for("jobs.show", job_id=new_id))
