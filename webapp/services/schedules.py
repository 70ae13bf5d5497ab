"""Schedules: keeping them (fields, timing, defaults) and reading their runs.

The scheduler's tick and the running of a schedule's command are in ``schedule_runs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select

from webapp import boundary
from webapp.exceptions import NotFound
from webapp.extensions import db
from webapp.models.base import isoformat, utcnow
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services import audit, timing
from webapp.services.schedule_fields import ScheduleError, clean_fields
from webapp.services.schedule_fields import ScheduleNameTaken as ScheduleNameTaken

DEFAULT_SCHEDULES = (
    ("Import missing series data", "series import-missing-data", {}, "0 2 * * *"),
    ("Import missing episode data", "episodes import-missing-data", {}, "0 3 * * *"),
    ("Weekly series refresh", "series check-data-updates", {"--hours": "168"}, "0 4 * * 0"),
    ("Monthly episode refresh", "episodes check-data-updates", {"--hours": "720"}, "0 5 1 * *"),
    ("Daily job-log prune", "jobs prune", {"--days": "30"}, "30 3 * * *"),
)


class ScheduleNotFound(NotFound, ScheduleError):
    """No schedule (or schedule run) with this id or name."""


# -- keeping schedules -----------------------------------------------------------------------


def _plan_next(schedule: Schedule, now: datetime | None = None) -> None:
    """Its next run, or ScheduleError (field "cron") when an active schedule never comes round
    (one saved, while off, before such expressions were refused)."""
    now = now or utcnow()
    if not schedule.active:
        schedule.next_run_at = None
        return
    runs = timing.next_runs(schedule.cron, schedule.timezone, now, 1)
    if not runs:
        raise ScheduleError(
            f"{schedule.cron!r} never comes round, so the schedule cannot be switched on; "
            "change its timing first",
            field="cron",
        )
    schedule.next_run_at = runs[0]


# What an edit can change, as the audit log shows it.
EDITABLE = (
    "name",
    "description",
    "command",
    "parameters",
    "cron",
    "timezone",
    "queue",
    "active",
    "without_overlapping",
    "success_window_minutes",
)


def _snapshot(schedule: Schedule) -> dict[str, Any]:
    return {key: getattr(schedule, key) for key in EDITABLE}


def create_schedule(data: dict[str, Any], user_id: int | None = None) -> Schedule:
    """Add a schedule; audited as ``schedule.create``."""
    schedule = Schedule(created_by=user_id, **clean_fields(data))
    _plan_next(schedule)
    db.session.add(schedule)
    db.session.flush()
    audit.record(
        "schedule.create", ("schedule", schedule.id), changes=audit.diff({}, _snapshot(schedule))
    )
    db.session.commit()
    return schedule


def update_schedule(schedule: Schedule, data: dict[str, Any]) -> Schedule:
    """Change a schedule; audited as ``schedule.toggle`` when only ``active`` changes, else
    ``schedule.update``, with each changed field before and after."""
    fields = clean_fields(data, schedule)
    before = _snapshot(schedule)
    retime = any(k in fields for k in ("cron", "timezone", "active"))
    for key, value in fields.items():
        setattr(schedule, key, value)
    if retime:
        _plan_next(schedule)
    changes = audit.diff(before, _snapshot(schedule))
    if changes:
        action = "schedule.toggle" if set(changes) == {"active"} else "schedule.update"
        audit.record(action, ("schedule", schedule.id), changes=changes)
    db.session.commit()
    return schedule


def delete_schedule(schedule: Schedule) -> None:
    """Delete a schedule and its runs; audited as ``schedule.delete`` with what it was."""
    audit.record(
        "schedule.delete", ("schedule", schedule.id), changes=audit.diff(_snapshot(schedule), {})
    )
    db.session.delete(schedule)
    db.session.commit()


def get_schedule(ref: int | str) -> Schedule:
    """A schedule by id or by name; ScheduleNotFound when there is none."""
    schedule = None
    digits = isinstance(ref, int) or (str(ref).isascii() and str(ref).isdigit())
    if digits and 1 <= int(ref) <= boundary.MAX_ID:
        schedule = db.session.get(Schedule, int(ref))
    if schedule is None:
        schedule = db.session.scalar(select(Schedule).where(Schedule.name == str(ref)))
    if schedule is None:
        raise ScheduleNotFound(f"schedule {ref} not found")
    return schedule


def list_schedules() -> list[Schedule]:
    return list(db.session.scalars(select(Schedule).order_by(Schedule.name)))


# The columns the schedules page sorts by.
SCHEDULE_SORTS = {
    "name": Schedule.name,
    "command": Schedule.command,
    "next_run_at": Schedule.next_run_at,
    "created_at": Schedule.created_at,
}


def schedules_matching(words: str | None = None, state: str | None = None) -> Select:
    """Schedules whose name, command or description contain ``words``; ``state`` "on" or
    "off" keeps only active or paused ones."""
    stmt = select(Schedule)
    if words:
        like = f"%{words}%"
        stmt = stmt.where(
            or_(
                Schedule.name.ilike(like),
                Schedule.command.ilike(like),
                Schedule.description.ilike(like),
            )
        )
    if state in ("on", "off"):
        stmt = stmt.where(Schedule.active.is_(state == "on"))
    return stmt


def last_run(schedule_id: int) -> ScheduleRun | None:
    return db.session.scalar(
        select(ScheduleRun)
        .where(ScheduleRun.schedule_id == schedule_id, ScheduleRun.status != "pending")
        .order_by(ScheduleRun.id.desc())
        .limit(1)
    )


def runs_of(schedule_id: int, limit: int = 50, before_id: int | None = None) -> list[ScheduleRun]:
    """A schedule's runs, newest first."""
    stmt = select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id)
    if before_id:
        stmt = stmt.where(ScheduleRun.id < before_id)
    return list(db.session.scalars(stmt.order_by(ScheduleRun.id.desc()).limit(limit)))


def to_dict(schedule: Schedule) -> dict[str, Any]:
    """The contract's schedule object, with a description of its timing."""
    last = last_run(schedule.id)
    return {
        "id": schedule.id,
        "name": schedule.name,
        "description": schedule.description,
        "command": schedule.command,
        "parameters": schedule.parameters,
        "cron": schedule.cron,
        "cron_description": timing.describe(schedule.cron),
        "timezone": schedule.timezone,
        "queue": schedule.queue,
        "active": schedule.active,
        "without_overlapping": schedule.without_overlapping,
        "success_window_minutes": schedule.success_window_minutes,
        "next_run_at": isoformat(schedule.next_run_at),
        "last_run": last.to_dict() if last else None,
    }


def install_defaults() -> list[Schedule]:
    """The first-run schedules, created inactive; existing names are left alone."""
    made = []
    for name, command, parameters, cron in DEFAULT_SCHEDULES:
        if db.session.scalar(select(Schedule.id).where(Schedule.name == name)) is None:
            made.append(
                create_schedule(
                    {
                        "name": name,
                        "command": command,
                        "parameters": parameters,
                        "cron": cron,
                        "active": False,
                        "description": "Installed by Jobdeck; switch it on when you want it.",
                    }
                )
            )
    return made
