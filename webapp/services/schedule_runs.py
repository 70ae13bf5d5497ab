"""Schedule runs: the scheduler's tick that plans them, manual runs, and running one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jobkit import locks
from webapp.extensions import db
from webapp.models.base import isoformat, utcnow
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services import audit, commands, timing
from webapp.services.schedules import ScheduleNotFound

TICK_SECONDS = 60  # the tick plans every run due before the next tick
CATCH_UP_GRACE_SECONDS = 90  # older than this when the tick finds it: the run was missed
MAX_MISSED_COUNTED = 10_000


class ScheduledCommandFailed(Exception):
    """The command a schedule ran exited with an error."""


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

    Built for thousands of due schedules at once: their columns are read without making ORM
    objects, schedules with the same timing share one computation, and the next run times
    are written in one statement. On PostgreSQL the due schedules are locked as they are read
    (in id order), so a second scheduler waits for the first and then finds them not due.
    """
    now = now or utcnow()
    horizon = now + timedelta(seconds=TICK_SECONDS)
    missed_before = now - timedelta(seconds=CATCH_UP_GRACE_SECONDS)
    due = db.session.execute(
        select(Schedule.id, Schedule.cron, Schedule.timezone, Schedule.next_run_at, Schedule.queue)
        .where(Schedule.active.is_(True), Schedule.next_run_at <= horizon)
        .order_by(Schedule.id)
        .with_for_update(of=Schedule)
    ).all()
    rows: list[dict[str, Any]] = []
    following: list[dict[str, Any]] = []
    plans: dict[tuple, tuple[list[datetime], datetime | None]] = {}
    for schedule_id, cron, zone, next_run_at, _queue in due:
        key = (cron, zone, next_run_at)
        if key not in plans:
            plans[key] = _times_until(cron, zone, next_run_at, horizon)
        times, after = plans[key]
        following.append({"b_id": schedule_id, "b_next": after})
        missed = [t for t in times if t < missed_before]
        if missed:
            note = (
                f"{len(missed)} run(s) missed from {isoformat(missed[0])} to "
                f"{isoformat(missed[-1])} while no consumer was running; caught up once."
            )
            rows.append(_run_row(schedule_id, missed[-1], "catch-up", note))
        rows += [_run_row(schedule_id, t, "schedule", None) for t in times if t >= missed_before]
    if following:
        table = Schedule.__table__
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(next_run_at=bindparam("b_next")),
            following,
        )
    inserted = _insert_runs(rows)
    db.session.commit()
    queues = {schedule_id: queue for schedule_id, *_, queue in due}
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


def _times_until(
    cron: str, zone: str, next_run_at: datetime, end: datetime
) -> tuple[list[datetime], datetime | None]:
    """Due times from a schedule's next run up to ``end`` (a long outage is counted up to a
    limit, not listed forever), and the first time after ``end`` (None when there is none)."""
    times: list[datetime] = []
    for moment in timing.iter_runs(cron, zone, next_run_at - timedelta(microseconds=1)):
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
