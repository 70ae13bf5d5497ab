"""Failure groups on /failed: retry or delete every job of a group, as it is when clicked."""

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from webapp import boundary
from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.jobs.routes import bp, failed_filters
from webapp.models.users import Role
from webapp.services import failure_groups
from webapp.services.failure_groups import GroupAction


def _confirmed() -> int | None:
    """The count the person confirmed on the page (the group as it was shown)."""
    raw = request.form.get("expected", "").strip()
    return boundary.whole_number(raw, "expected") if raw else None


def _said(verb: str, done: GroupAction, confirmed: int | None) -> str:
    group = done.group
    said = f"{verb} {done.done} failed job(s) of {group.task} · {group.error_class}."
    if confirmed is not None and confirmed != done.matched:
        said += (
            f" The page showed {confirmed}; the group held {done.matched} when you clicked, "
            "and those were acted on."
        )
    return said


def _group_action(key: str, act) -> object:
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    filters = failed_filters(request.form)
    confirmed = _confirmed()
    done = act(key, filters)
    return filters, done, confirmed


@bp.route("failed/groups/<key>/retry", methods=["POST"])
@role_required(Role.OPERATOR)
def retry_group(key: str):
    """Retry every job of the failure group ``key`` (within the page's filters)."""
    filters, done, confirmed = _group_action(
        key, lambda k, f: failure_groups.retry_group(k, f, current_user.id)
    )
    flash(_said("Retried", done, confirmed), "success")
    for problem in done.problems[:5]:
        flash(problem, "error")
    return redirect(url_for("jobs.failed", group=1, **filters.as_query()))


@bp.route("failed/groups/<key>/delete", methods=["POST"])
@role_required(Role.ADMIN)
def delete_group(key: str):
    """Delete the records of every job of the failure group ``key``."""
    filters, done, confirmed = _group_action(key, failure_groups.delete_group)
    flash(_said("Deleted", done, confirmed), "success")
    return redirect(url_for("jobs.failed", group=1, **filters.as_query()))
