"""Schedules: keeping them, the scheduler's tick, and running a schedule's command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from jobkit import locks
from webapp import boundary
from webapp.exceptions import NotFound
from webapp.extensions import db
from webapp.models.base import isoformat, utcnow
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services import audit, commands, timing
from webapp.services.schedule_fields import ScheduleError, clean_fields
from webapp.services.schedule_fields import ScheduleNameTaken as ScheduleNameTaken

TICK_SECONDS = 60  # the tick plans every run due before the next tick
CATCH_UP_GRACE_SECONDS = 90  # older than this when the tick finds it: the run was missed
MAX_MISSED_COUNTED = 10_000

DEFAULT_SCHEDULES = (
    ("Import missing series data", "series import-missing-data", {}, "0 2 * * *"),
    ("Import missing episode data", "episodes import-missing-data", {}, "0 3 * * *"),
    ("Weekly series refresh", "series check-data-updates", {"--hours": "168"}, "0 4 * * 0"),
    ("Monthly episode refresh", "episodes check-data-updates", {"--hours": "720"}, "0 5 1 * *"),
    ("Daily job-log prune", "jobs prune", {"--days": "30"}, "30 3 * * *"),
)


class ScheduleNotFound(NotFound, ScheduleError):
    """No schedule (or schedule run) with this id or name."""


class ScheduledCommandFailed(Exception):
    """The command a schedule ran exited with an error."""


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


# -- the scheduler's tick --------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRun:
    run_id: int
    schedule_id: int
    queue: str
    delay: float  # seconds until it is due


def _insert_runs(rows: list[dict[str, Any]]) -> list[tuple[int, int, datetime]]:
    """Insert runs, skipping any (schedule, due time) that already exists; returns the
    (id, schedule_id, due_at) of the rows this call inserted."""
    if not rows:
        return []
    table = ScheduleRun.__table__
    dialect = sqlite if db.engine.dialect.name == "sqlite" else postgresql
    stmt = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["schedule_id", "due_at"])
        .returning(table.c.id, table.c.schedule_id, table.c.due_at)
    )
    inserted = []
    for start in range(0, len(rows), 1000):
        inserted += [tuple(r) for r in db.session.execute(stmt, rows[start : start + 1000])]
    return inserted


def plan_due_runs(now: datetime | None = None) -> list[PlannedRun]:
    """Create every run due before the next tick, exactly once per schedule and due time.

    Returns the runs this call created (a unique constraint on schedule and due time makes a
    second scheduler ticking at once create none of them). A schedule whose runs were missed
    (no consumer was running) gets one catch-up run now, noted in its history.
    """
    now = now or utcnow()
    horizon = now + timedelta(seconds=TICK_SECONDS)
    missed_before = now - timedelta(seconds=CATCH_UP_GRACE_SECONDS)
    due = db.session.scalars(
        select(Schedule).where(Schedule.active.is_(True), Schedule.next_run_at <= horizon)
    ).all()
    rows: list[dict[str, Any]] = []
    for schedule in due:
        times, schedule.next_run_at = _times_until(schedule, horizon)
        missed = [t for t in times if t < missed_before]
        if missed:
            note = (
                f"{len(missed)} run(s) missed from {isoformat(missed[0])} to "
                f"{isoformat(missed[-1])} while no consumer was running; caught up once."
            )
            rows.append(_run_row(schedule.id, missed[-1], "catch-up", note))
        rows += [_run_row(schedule.id, t, "schedule", None) for t in times if t >= missed_before]
    inserted = _insert_runs(rows)
    db.session.commit()
    queues = {s.id: s.queue for s in due}
    return [
        PlannedRun(
            run_id, schedule_id, queues[schedule_id], max(0.0, (due_at - now).total_seconds())
        )
        for run_id, schedule_id, due_at in inserted
    ]


def _run_row(schedule_id: int, due_at: datetime, trigger: str, note: str | None) -> dict:
    return {
        "schedule_id": schedule_id,
        "due_at": due_at,
        "trigger": trigger,
        "note": note,
        "status": "pending",
    }


def _times_until(schedule: Schedule, end: datetime) -> tuple[list[datetime], datetime | None]:
    """Due times from its next run up to ``end`` (a long outage is counted up to a limit, not
    listed forever), and the first time after ``end`` (None when there is none)."""
    times: list[datetime] = []
    for moment in timing.iter_runs(
        schedule.cron, schedule.timezone, schedule.next_run_at - timedelta(microseconds=1)
    ):
        if moment > end:
            return times, moment
        if len(times) < MAX_MISSED_COUNTED:
            times.append(moment)
        else:
            times[-1] = moment
    return times, None  # no run after these: it is not due again


def manual_run(schedule: Schedule, note: str = "Run now") -> ScheduleRun:
    """A run of ``schedule`` due now, whatever its timing; audited as ``schedule.run``."""
    run = ScheduleRun(schedule_id=schedule.id, due_at=utcnow(), trigger="manual", note=note)
    db.session.add(run)
    db.session.flush()
    audit.record("schedule.run", ("schedule", schedule.id), changes={"run": run.id, "note": note})
    db.session.commit()
    return run


# -- running ---------------------------------------------------------------------------------


def execute_run(run_id: int, job_log_id: int | None = None) -> ScheduleRun:
    """Run a schedule's command for one of its runs and record exit code and output.

    With ``without_overlapping``, a run that finds the previous one still going is skipped
    (and says so); the lock expires on its own if its holder dies.
    """
    run = db.session.get(ScheduleRun, run_id)
    if run is None:
        raise ScheduleNotFound(f"schedule run {run_id} not found")
    schedule = run.schedule
    lock_name, holder = f"schedule:{schedule.id}", f"run:{run.id}"
    ttl = commands.RUN_TIMEOUT_SECONDS + 60
    if schedule.without_overlapping and not locks.acquire(lock_name, holder, ttl):
        run.status = "skipped"
        run.note = "Skipped: the previous run was still going (without overlapping)."
        run.finished_at = utcnow()
        run.job_log_id = job_log_id
        db.session.commit()
        return run
    try:
        run.status, run.started_at, run.job_log_id = "running", utcnow(), job_log_id
        db.session.commit()
        exit_code, output = commands.run_command(schedule.command, schedule.parameters)
        run.exit_code, run.output, run.finished_at = exit_code, output, utcnow()
        run.status = "succeeded" if exit_code == 0 else "failed"
        db.session.commit()
    finally:
        if schedule.without_overlapping:
            locks.release(lock_name, holder)
    return run


def overdue_for_success(now: datetime | None = None) -> list[Schedule]:
    """Active schedules with a success window and no successful run within it."""
    now = now or utcnow()
    late = []
    for schedule in db.session.scalars(
        select(Schedule).where(
            Schedule.active.is_(True), Schedule.success_window_minutes.isnot(None)
        )
    ):
        since = now - timedelta(minutes=schedule.success_window_minutes)
        last_success = db.session.scalar(
            select(func.max(ScheduleRun.finished_at)).where(
                ScheduleRun.schedule_id == schedule.id, ScheduleRun.status == "succeeded"
            )
        )
        if (last_success or schedule.created_at) < since:
            late.append(schedule)
    return late
