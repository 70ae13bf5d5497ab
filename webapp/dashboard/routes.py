from datetime import datetime

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from jobkit import pauses
from tasks import samples
from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.exceptions import BadRequest
from webapp.models.jobs import QUEUES
from webapp.models.users import Role
from webapp.services import alerts, consumers, live, metrics
from webapp.services.jobs import JobFilters, list_jobs, queue_counts
from webapp.services.ownership import viewer_of
from webapp.services.waiting import waiting_counts, waiting_reasons
from webapp.templating import render_live

bp = Blueprint("dashboard", __name__, url_prefix="/")


def dashboard_context() -> dict:
    """One context for the page and its live part; every read is an index range or the
    rolled-up stats, so a refresh costs the same at a million job logs as at ten."""
    viewer = viewer_of(current_user)
    recent, _ = list_jobs(JobFilters(viewer=viewer), limit=10)
    paused = {(p.kind, p.name) for p in pauses.paused()}
    queues = queue_counts(viewer)
    return {
        **metrics.dashboard(),
        "queues": queues,
        "running_by_queue": live.running_per_queue(viewer),
        "waiting": sum(queues[q] for q in QUEUES),
        "waiting_by_reason": waiting_counts(viewer),
        "recent": recent,
        "reasons": waiting_reasons(recent),
        "alerts": alerts.open_alerts(),
        "consumers": consumers.live_consumers(),
        "paused": paused,
        "due_next": metrics.schedules_due_next(),
        "server_now": datetime.now().astimezone(),
        "form": ActionForm(),
    }


@bp.route("")
@login_required
def index():
    version = live.dashboard_version(viewer_of(current_user))
    return render_live("dashboard/index.html", ("dashboard_live",), version, dashboard_context)


@bp.route("sample-job", methods=["POST"])
@role_required(Role.OPERATOR)
def sample_job():
    """Run a sample job: shows that a consumer is alive and what a running job looks like."""
    if not ActionForm().validate_on_submit():
        return redirect(url_for("dashboard.index"))
    job_id = samples.sample_job.dispatch(steps=10, step_seconds=0.5, user_id=current_user.id)
    return redirect(url_for("jobs.show", job_id=job_id))


@bp.route("pause", methods=["POST"])
@role_required(Role.OPERATOR)
def pause():
    """Pause or resume a queue or a task type from the dashboard."""
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    kind, name, action = (request.form.get(k, "") for k in ("kind", "name", "action"))
    try:
        if action == "pause":
            pauses.pause(kind, name, current_user.id)
            flash(f"Paused the {kind} {name}: its jobs wait until you resume it.", "success")
        elif action == "resume":
            pauses.resume(kind, name)
            flash(f"Resumed the {kind} {name}.", "success")
        else:
            abort(400, "action must be pause or resume")
    except pauses.PauseError as exc:
        # An unknown queue is "not found" at its own URL (the API); here the name is a value
        # posted by the dashboard's form, so a name that does not exist is a bad request.
        raise BadRequest(str(exc)) from None
    return redirect(url_for("dashboard.index"))
