from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from tasks.schedules import dispatch_run
from webapp.areas import schedulable_commands
from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.schedules import Schedule
from webapp.models.users import Role
from webapp.schedules.forms import ScheduleForm, parameters_from_text, parameters_to_text
from webapp.services import audit, commands, daylight, schedule_fields, timing
from webapp.services import schedules as service
from webapp.services.jobs import jobs_for_record
from webapp.services.listing import Listing
from webapp.services.ownership import viewer_of
from webapp.templating import render_fragment, render_page

bp = Blueprint("schedules", __name__, url_prefix="/schedules")


def list_context() -> dict:
    """The list as the query string has it: words, on/off, sort and page."""
    listing = Listing.read(request.args, service.SCHEDULE_SORTS, "name", filters=("q", "state"))
    stmt = service.schedules_matching(listing.filters.get("q"), listing.filters.get("state"))
    rows, has_next = listing.page_of(stmt, service.SCHEDULE_SORTS, Schedule.id)
    return {
        "rows": rows,
        "listing": listing,
        "has_next": has_next,
        "last_runs": {s.id: service.last_run(s.id) for s in rows},
        "describe": timing.describe,
        "form": ActionForm(),
    }


@bp.route("")
@login_required
def index():
    return render_page("schedules/list.html", ("schedule_table",), live=True, **list_context())


def _form_data(form: ScheduleForm) -> dict:
    data = {
        "name": form.name.data,
        "description": form.description.data or "",
        "command": form.command.data,
        "parameters": parameters_from_text(form.parameters.data),
        "timezone": (form.timezone.data or "UTC").strip(),
        "queue": form.queue.data,
        "active": bool(form.active.data),
        "without_overlapping": bool(form.without_overlapping.data),
        "success_window_minutes": form.success_window_minutes.data,
    }
    if form.preset.data:
        data |= {
            "preset": form.preset.data,
            "preset_at": form.preset_at.data or "",
            "preset_day": form.preset_day.data or "",
            "preset_hours": form.preset_hours.data or "",
        }
    else:
        data["cron"] = form.cron.data or ""
    return data


def _save(form: ScheduleForm, schedule=None):
    """Create or update from the form; None with every problem on its field when refused (the
    form's own checks and the schedule's, all at once)."""
    valid = form.validate_on_submit()
    data = _form_data(form)
    _, problems = schedule_fields.check_fields(data, schedule)
    for problem in problems:
        field = _field_of(form, problem.field)
        if not field.errors:  # the form said it already ("This field is required.")
            field.errors = [*field.errors, problem.message]
    if not valid or problems:
        return None
    try:
        if schedule is None:
            return service.create_schedule(data, current_user.id)
        return service.update_schedule(schedule, data)
    except service.ScheduleError as exc:  # changed meanwhile (a name taken), or never due
        db.session.rollback()
        field = _field_of(form, exc.field)
        field.errors = [*field.errors, exc.message]
        return None


def _field_of(form: ScheduleForm, name: str | None):
    """The form field a schedule problem belongs to (the preset when one is chosen)."""
    if name == "cron" and form.preset.data:
        return form.preset
    field = getattr(form, name or "", None)
    return field if field is not None and hasattr(field, "errors") else form.name


def _editor(form: ScheduleForm, schedule=None, status: int = 200):
    return render_page(
        "schedules/edit.html",
        ("preview",),
        form=form,
        schedule=schedule,
        options={c: commands.options_of(c) for c in schedulable_commands()},
        preview=_preview(
            form.cron.data or "",
            form.timezone.data or "UTC",
            {
                "preset": form.preset.data or "",
                "at": form.preset_at.data or "",
                "day": form.preset_day.data or "",
                "hours": form.preset_hours.data or "",
            },
            request.form.get("preview_from", ""),
        ),
        preview_from=request.form.get("preview_from", ""),
    ), status


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.OPERATOR)
def new():
    form = ScheduleForm()
    schedule = _save(form) if request.method == "POST" else None
    if schedule is not None:
        flash(f"Created the schedule {schedule.name}.", "success")
        return redirect(url_for("schedules.show", schedule_id=schedule.id))
    return _editor(form, status=422 if request.method == "POST" else 200)


@bp.route("/<int:schedule_id>/edit", methods=["GET", "POST"])
@role_required(Role.OPERATOR)
def edit(schedule_id: int):
    schedule = service.get_schedule(schedule_id)
    form = ScheduleForm(obj=schedule) if request.method == "GET" else ScheduleForm()
    if request.method == "GET":
        form.parameters.data = parameters_to_text(schedule.parameters)
    elif _save(form, schedule) is not None:
        flash(f"Saved the schedule {schedule.name}.", "success")
        return redirect(url_for("schedules.show", schedule_id=schedule.id))
    return _editor(form, schedule, 422 if request.method == "POST" else 200)


def _preview(cron: str, tz: str, preset: dict | None = None, start: str = "") -> dict:
    """The plain-words description and the next five runs (from ``start``, a date, or now),
    each with what daylight saving does to it; or what is wrong."""
    try:
        expression = timing.preset_cron(**preset) if preset and preset.get("preset") else cron
        if not expression:
            return {"error": None}
        expression = timing.validate_cron(expression)
        zone = timing.zone(tz)
        after = daylight.start_of(start, zone.key) if start.strip() else utcnow()
        runs = daylight.preview_runs(expression, zone.key, after, 5)
        return {
            "cron": expression,
            "description": timing.describe(expression),
            "zone": zone.key,
            "start": start.strip(),
            "runs": [
                {"at": r.at, "weekday": r.at.astimezone(zone).strftime("%a"), "notes": r.notes}
                for r in runs
            ],
            "error": None,
        }
    except timing.TimingError as exc:
        return {"error": str(exc)}


@bp.route("/preview")
@login_required
def preview():
    """The timing preview, re-rendered by htmx as the form is typed in."""
    args = request.args
    preset = {
        "preset": args.get("preset", ""),
        "at": args.get("preset_at", ""),
        "day": args.get("preset_day", ""),
        "hours": args.get("preset_hours", ""),
    }
    return render_fragment(
        "schedules/edit.html",
        "preview",
        preview=_preview(
            args.get("cron", ""),
            args.get("timezone") or "UTC",
            preset,
            args.get("preview_from", ""),
        ),
        preview_from=args.get("preview_from", ""),
    )


# The audit rows a schedule's page lists as its edits.
SCHEDULE_EDITS = ("schedule.create", "schedule.update", "schedule.toggle")


def detail_context(schedule_id: int) -> dict:
    schedule = service.get_schedule(schedule_id)
    runs = service.runs_of(schedule.id, 50)
    jobs = jobs_for_record("schedule", schedule.id, 10, viewer_of(current_user))
    return {
        "schedule": schedule,
        "runs": runs,
        "jobs": jobs,
        "description": timing.describe(schedule.cron),
        "any_active": any(r.status in ("pending", "running") for r in runs),
        "edits": audit.entries_for("schedule", schedule.id, SCHEDULE_EDITS),
        "form": ActionForm(),
    }


@bp.route("/<int:schedule_id>")
@login_required
def show(schedule_id: int):
    return render_page(
        "schedules/show.html", ("schedule_runs",), live=True, **detail_context(schedule_id)
    )


def _checked() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")


@bp.route("/<int:schedule_id>/toggle", methods=["POST"])
@role_required(Role.OPERATOR)
def toggle(schedule_id: int):
    schedule = service.get_schedule(schedule_id)
    _checked()
    try:
        service.update_schedule(schedule, {"active": not schedule.active})
    except service.ScheduleError as exc:
        db.session.rollback()
        flash(f"{schedule.name}: {exc}", "error")
    if request.headers.get("HX-Request"):
        return render_page("schedules/list.html", ("schedule_table",), **list_context())
    return redirect(url_for("schedules.index", **request.args))


@bp.route("/<int:schedule_id>/run", methods=["POST"])
@role_required(Role.OPERATOR)
def run_now(schedule_id: int):
    schedule = service.get_schedule(schedule_id)
    _checked()
    dispatch_run(service.manual_run(schedule), user_id=current_user.id)
    flash(f"Running {schedule.name} now.", "success")
    if request.headers.get("HX-Request"):
        return render_page("schedules/list.html", ("schedule_table",), **list_context())
    return redirect(url_for("schedules.show", schedule_id=schedule.id))


@bp.route("/<int:schedule_id>/delete", methods=["POST"])
@role_required(Role.ADMIN)
def delete(schedule_id: int):
    schedule = service.get_schedule(schedule_id)
    _checked()
    service.delete_schedule(schedule)
    flash(f"Deleted the schedule {schedule.name}.", "success")
    return redirect(url_for("schedules.index"))
