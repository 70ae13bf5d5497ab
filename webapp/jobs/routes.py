from datetime import datetime

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from jobkit.registry import registered_tasks
from webapp import boundary
from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.exceptions import NotFound
from webapp.local_time import viewer_zone
from webapp.models.users import Role
from webapp.services import audit, live
from webapp.services import jobs as job_service
from webapp.services.failure_groups import failure_groups
from webapp.services.job_changes import changes_from_original
from webapp.services.jobs import FailedFilters, JobError, JobFilters
from webapp.services.listing import page_size
from webapp.services.ownership import viewer_of, visible_job_ids
from webapp.services.waiting import waiting_reason, waiting_reasons
from webapp.templating import render_live, render_page

bp = Blueprint("jobs", __name__, url_prefix="/")


def job_filters(source) -> JobFilters:
    """The /jobs filters from the query string or a submitted form, for the signed-in user;
    JobQueryError (a 400 in words) when a value cannot be used."""
    return JobFilters.from_args(source, zone=viewer_zone(), viewer=viewer_of(current_user))


def jobs_context() -> dict:
    """The list as the query string filters it; with bad filters, no rows and what is wrong
    (``filter_errors``), so that the page shows its form with the errors."""
    filters, problems = JobFilters.read(
        request.args, zone=viewer_zone(), viewer=viewer_of(current_user)
    )
    page, next_cursor = [], None
    if not problems:
        page, next_cursor = job_service.list_jobs(filters, limit=page_size("jobs"))
    query = filters.as_query()
    return {
        "filters": filters,
        "query": query,
        "jobs": page,
        "reasons": waiting_reasons(page),
        "next_cursor": next_cursor if filters.keyset else None,
        "next_page": None if filters.keyset else next_cursor,
        "first_page": filters.cursor is None and filters.page == 1,
        "any_active": any(job.is_active for job in page),
        "task_names": registered_tasks(),
        "action_form": ActionForm(),
        "filter_errors": problems,
    }


@bp.route("jobs")
@login_required
def index():
    context = jobs_context()
    page = render_page("jobs/list.html", ("job_table",), live=True, **context)
    _push_times_in_utc(page, "jobs.index", context)
    return page, 400 if context["filter_errors"] else 200


def _typed_without_zone() -> bool:
    for name in ("since", "until"):
        value = request.args.get(name, "").strip()
        try:
            if value and datetime.fromisoformat(value).tzinfo is None:
                return True
        except ValueError:
            continue
    return False


def _push_times_in_utc(page, endpoint: str, context: dict) -> None:
    """The filter form sends its times as typed (the viewer's wall time); the address it pushes
    into the history gets them in UTC instead, so that a copied link means the same moment to
    everyone (the list's own links already carry UTC)."""
    if _typed_without_zone() and request.headers.get("HX-Request") and not context["filter_errors"]:
        extra = {"group": 1} if context.get("grouped") else {}
        page.headers["HX-Push-Url"] = url_for(endpoint, **context["filters"].as_query(), **extra)


@bp.route("jobs/bulk", methods=["POST"])
@role_required(Role.OPERATOR)
def bulk():
    """Retry or cancel the jobs ticked on the list that its filters (posted with them) still
    show; each one that cannot be is said why."""
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    filters = job_filters(request.form)
    query = filters.as_query()
    action = request.form.get("action")
    if action not in ("retry", "cancel"):
        abort(400, "action must be retry or cancel")
    ticked = visible_job_ids(_selected_ids(), viewer_of(current_user))
    ids = job_service.matching_job_ids(filters, ticked)
    if len(ids) < len(set(ticked)):
        flash(
            f"{len(set(ticked)) - len(ids)} ticked job(s) no longer match the filters and "
            "were left alone.",
            "info",
        )
    if not ids:
        flash("No jobs were selected.", "info")
        return redirect(url_for("jobs.index", **query))
    if action == "retry":
        done, problems = job_service.retry_jobs(ids, current_user.id)
        flash(f"Retried {len(done)} of {len(ids)} selected job(s).", "success")
    else:
        done, problems = job_service.cancel_jobs(ids)
        flash(f"Cancelled {len(done)} of {len(ids)} selected job(s).", "success")
    for problem in problems[:5]:
        flash(problem, "error")
    if len(problems) > 5:
        flash(f"… and {len(problems) - 5} more that could not be.", "error")
    return redirect(url_for("jobs.index", **query))


# The audit rows a job's page tells of: "Retried by X at T".
INTERVENTIONS = (
    "job.retry",
    "job.retry_with_changes",
    "jobs.retry",
    "failed.retry_all",
    "failed.retry_group",
    "job.cancel",
    "jobs.cancel",
)


def job_context(job_id: int) -> dict:
    job = job_service.get_job(job_id, viewer_of(current_user))
    retried_by = job_service.retried_by(job.id)
    return {
        "job": job,
        "retried_by": retried_by,
        "retried_by_exists": bool(job_service.existing_job_ids([retried_by])),
        "interventions": audit.entries_for("job", job.id, INTERVENTIONS, limit=10),
        "retry_of_job": job_service.find_job(job.retry_of),
        "reason": waiting_reason(job),
        "changes": changes_from_original(job),
        "form": ActionForm(),
    }


@bp.route("jobs/<int:job_id>")
@login_required
def show(job_id: int):
    context = job_context(job_id)
    version = (
        live.job_version(context["job"]),
        context["retried_by"],
        context["retried_by_exists"],
        tuple(entry.id for entry in context["interventions"]),
        context["retry_of_job"].id if context["retry_of_job"] else None,
        context["reason"],
    )
    return render_live("jobs/show.html", ("job_status",), version, lambda: context)


def _act(job_id: int, action) -> object:
    """The action's result, or None with the reason flashed when the job is not in a state
    that allows it (the job page says why); a job that does not exist is a 404."""
    job_service.get_job(job_id, viewer_of(current_user))  # another user's job is not found
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    try:
        return action()
    except NotFound:
        raise
    except JobError as exc:
        flash(str(exc), "error")
        return None


@bp.route("jobs/<int:job_id>/cancel", methods=["POST"])
@role_required(Role.OPERATOR)
def cancel(job_id: int):
    if _act(job_id, lambda: job_service.cancel_job(job_id)) is not None:
        flash(f"Job {job_id} cancelled.", "success")
    return redirect(url_for("jobs.show", job_id=job_id))


@bp.route("jobs/<int:job_id>/retry", methods=["POST"])
@role_required(Role.OPERATOR)
def retry(job_id: int):
    new_id = _act(job_id, lambda: job_service.retry_job(job_id, current_user.id))
    if new_id is None:
        return redirect(url_for("jobs.show", job_id=job_id))
    flash(f"Job {job_id} retried as job {new_id}.", "success")
    return redirect(url_for("jobs.show", job_id=new_id))


def failed_filters(source) -> FailedFilters:
    """The failed list's filters from the query string or a submitted form, for the signed-in
    user (times without an offset in their zone); JobQueryError (a 400 in words) when a value
    cannot be used."""
    return FailedFilters.from_args(source, zone=viewer_zone(), viewer=viewer_of(current_user))


GROUPS_SHOWN = 100


def failed_context() -> dict:
    """The failed list, newest first, a page at a time (keyset: ``cursor`` is the last id
    seen), with the total that "Retry all" would act on; with ``group=1``, its failure
    groups instead of its rows."""
    filters, problems = FailedFilters.read(
        request.args, zone=viewer_zone(), viewer=viewer_of(current_user)
    )
    grouped = request.args.get("group") == "1"
    failed, next_cursor = [], None
    if not problems and not grouped:
        failed, next_cursor = job_service.failed_page(filters, page_size("failed"))
    groups = failure_groups(filters, GROUPS_SHOWN + 1) if grouped and not problems else []
    return {
        "failed": failed,
        "next_cursor": next_cursor,
        "first_page": filters.cursor is None,
        "total": 0 if problems else job_service.failed_count(filters),
        "filters": filters,
        "filter_errors": problems,
        "form": ActionForm(),
        "task_names": registered_tasks(),
        "grouped": grouped,
        "groups": groups[:GROUPS_SHOWN],
        "more_groups": len(groups) > GROUPS_SHOWN,
    }


@bp.route("failed")
@login_required
def failed():
    context = failed_context()
    page = render_page("jobs/failed.html", ("failed_table",), live=True, **context)
    _push_times_in_utc(page, "jobs.failed", context)
    return page, 400 if context["filter_errors"] else 200


def _selected_ids() -> list[int]:
    """The ticked job ids; anything that is not one is refused (BadRequest)."""
    return [boundary.record_id(v, "ids") for v in request.form.getlist("ids")]


@bp.route("failed/retry", methods=["POST"])
@role_required(Role.OPERATOR)
def retry_failed():
    """Retry the failed jobs ticked on the page, or every one matching the filters."""
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    filters = failed_filters(request.form)
    retry_all = request.form.get("all") == "1"
    ids = (
        job_service.failed_job_ids(filters)
        if retry_all
        else visible_job_ids(_selected_ids(), viewer_of(current_user))
    )
    if not ids:
        flash("No failed jobs were selected.", "info")
    else:
        sweep = {"action": "failed.retry_all", "filters": filters.as_query()} if retry_all else {}
        new_ids, problems = job_service.retry_jobs(ids, current_user.id, **sweep)
        flash(f"Retried {len(new_ids)} failed job(s).", "success")
        for problem in problems[:5]:
            flash(problem, "error")
    return redirect(url_for("jobs.failed", **filters.as_query()))


@bp.route("failed/delete", methods=["POST"])
@role_required(Role.ADMIN)
def delete_failed():
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    deleted = job_service.delete_finished_jobs(_selected_ids())
    flash(f"Deleted {deleted} failed job record(s).", "success")
    return redirect(url_for("jobs.failed", **failed_filters(request.form).as_query()))


@bp.route("failed/flush", methods=["POST"])
@role_required(Role.ADMIN)
def flush_failed():
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    filters = failed_filters(request.form)
    deleted = job_service.flush_failed(filters)
    flash(f"Deleted {deleted} failed job record(s).", "success")
    return redirect(url_for("jobs.failed", **filters.as_query()))
