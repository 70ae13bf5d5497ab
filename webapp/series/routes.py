from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from tasks.series import dispatch_series_data, find_series_missing_data, import_series_data
from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.extensions import db
from webapp.models.series import Episode, Series
from webapp.models.users import Role
from webapp.series.forms import AddSeriesForm
from webapp.services import series as series_service
from webapp.services.jobs import active_job_for, jobs_for_record
from webapp.services.listing import Listing
from webapp.services.ownership import viewer_of
from webapp.services.series import SeriesError
from webapp.templating import already_working, render_page

bp = Blueprint("series", __name__, url_prefix="/series")

PAGE_SIZE = 50


def series_list_context(add_form: AddSeriesForm | None = None) -> dict:
    listing = Listing.read(request.args, series_service.SERIES_SORTS, "-id", filters=("q",))
    query = listing.filters.get("q", "")
    rows, has_next = listing.page_of(
        series_service.series_matching(query), series_service.SERIES_SORTS, Series.id, PAGE_SIZE
    )
    last_jobs = series_service.last_jobs_for("series", [s.id for s in rows])
    return {
        "rows": rows,
        "q": query,
        "listing": listing,
        "has_next": has_next,
        "last_jobs": last_jobs,
        "freshness": {s.id: series_service.freshness(s) for s in rows},
        "any_active": any(job.is_active for job in last_jobs.values()),
        "add_form": add_form or AddSeriesForm(),
        "form": ActionForm(),
    }


@bp.route("")
@login_required
def index():
    return render_page("series/list.html", ("series_table",), live=True, **series_list_context())


@bp.route("", methods=["POST"])
@role_required(Role.OPERATOR)
def add():
    form = AddSeriesForm()
    if form.validate_on_submit():
        ids = {f"{form.id_type.data}_id": form.show_id.data}
        try:
            series = series_service.add_series(user_id=current_user.id, **ids)
        except SeriesError as exc:
            form.show_id.errors.append(str(exc))
        else:
            job_id = dispatch_series_data([series.id], user_id=current_user.id)[0]
            flash(f"Added {series.label}; importing its data (job {job_id}).", "success")
            return redirect(url_for("series.show", series_id=series.id))
    return render_page("series/list.html", ("series_table",), **series_list_context(form)), 422


@bp.route("/import-missing", methods=["POST"])
@role_required(Role.OPERATOR)
def import_missing():
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    job_id = find_series_missing_data.dispatch(user_id=current_user.id)
    flash("Looking for series that were never imported.", "success")
    return redirect(url_for("jobs.show", job_id=job_id))


def series_context(series_id: int) -> dict:
    series = series_service.get_series(series_id)
    episodes = list(
        db.session.scalars(
            select(Episode)
            .where(Episode.series_id == series.id)
            .order_by(Episode.season, Episode.number)
        )
    )
    jobs = jobs_for_record("series", series.id, 20, viewer_of(current_user))
    return {
        "series": series,
        "episodes": episodes,
        "jobs": jobs,
        "freshness": series_service.freshness(series),
        "any_active": any(job.is_active for job in jobs),
        "form": ActionForm(),
    }


@bp.route("/<int:series_id>")
@login_required
def show(series_id: int):
    return render_page(
        "series/show.html", ("series_status",), live=True, **series_context(series_id)
    )


def episode_context(series_id: int, episode_id: int) -> dict:
    episode = db.session.get(Episode, episode_id)
    if episode is None or episode.series_id != series_id:
        abort(404, f"series {series_id} has no episode {episode_id}")
    jobs = jobs_for_record("episode", episode.id, 20, viewer_of(current_user))
    return {"episode": episode, "jobs": jobs, "any_active": any(j.is_active for j in jobs)}


@bp.route("/<int:series_id>/episodes/<int:episode_id>")
@login_required
def episode(series_id: int, episode_id: int):
    return render_page(
        "series/episode.html",
        ("episode_status",),
        live=True,
        **episode_context(series_id, episode_id),
    )


@bp.route("/episodes/<int:episode_id>")
@login_required
def episode_by_id(episode_id: int):
    """An episode's page from its id alone (what a job log knows of it)."""
    episode = db.session.get(Episode, episode_id)
    if episode is None:
        abort(404, f"no episode {episode_id}")
    return redirect(url_for("series.episode", series_id=episode.series_id, episode_id=episode_id))


@bp.route("/<int:series_id>/refresh", methods=["POST"])
@role_required(Role.OPERATOR)
def refresh(series_id: int):
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    series = series_service.get_series(series_id)
    queued = active_job_for("series", series.id, import_series_data.name)
    if queued is not None:
        flash(already_working(series.label, queued, viewer_of(current_user)), "info")
        return redirect(request.referrer or url_for("series.show", series_id=series.id))
    if series.upstream_state == "gone":
        series.upstream_state = "ok"  # someone asks again on purpose
        db.session.commit()
    job_id = dispatch_series_data([series.id], user_id=current_user.id)[0]
    flash(f"Refreshing {series.label} (job {job_id}).", "success")
    return redirect(request.referrer or url_for("series.show", series_id=series.id))
