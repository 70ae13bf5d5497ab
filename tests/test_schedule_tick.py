"""The scheduler's tick at scale: many due schedules, every run planned and dispatched exactly
once (also with two schedulers ticking at once), with its delay, queue and history row."""

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import insert, select

from jobkit import huey
from tasks.schedules import tick
from tests.conftest import make_app
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services import schedule_runs, timing

TIMINGS = [
    ("* * * * *", "UTC"),
    ("*/2 * * * *", "Europe/Berlin"),
    ("* * * * * */30", "UTC"),  # twice a minute: one run now, one with a delay
    ("* * * * * */20", "Asia/Kolkata"),
    ("0 * * * *", "America/New_York"),  # hourly: due in some minutes, not in others
]
QUEUES = ("high", "default", "low")


def tick_moment():
    """A tick's moment 45 s into a minute that has begun (so at most a minute ago): what is due
    by its horizon, the next minute's start included, is then the same at every time of day."""
    now = utcnow().replace(second=45, microsecond=0)
    return now if now <= utcnow() else now - timedelta(minutes=1)


def add_schedules(count: int, now) -> dict[int, dict]:
    """``count`` schedules of several timings, queues and states, their next run between a
    minute ago and two minutes ahead (so none is missed and some are not due yet)."""
    rows = []
    for i in range(count):
        cron, zone = TIMINGS[i % len(TIMINGS)]
        start = now - timedelta(seconds=60) + timedelta(seconds=(i * 7) % 180)
        rows.append(
            {
                "name": f"s{i}",
                "description": "",
                "command": "jobs prune",
                "parameters": {"--days": "30"},
                "cron": cron,
                "timezone": zone,
                "queue": QUEUES[i % 3],
                "active": i % 11 != 0,  # some are switched off
                "without_overlapping": i % 2 == 0,
                "next_run_at": timing.next_runs(cron, zone, start - timedelta(microseconds=1))[0],
                "created_at": now,
            }
        )
    with db.engine.begin() as conn:
        conn.execute(insert(Schedule.__table__), rows)
    return {s.id: s for s in db.session.scalars(select(Schedule))}


def expected_runs(schedules: dict, now) -> tuple[set, dict]:
    """The (schedule id, due time) pairs a tick at ``now`` must plan, worked out schedule by
    schedule, and each due schedule's next run after the tick."""
    horizon = now + timedelta(seconds=schedule_runs.TICK_SECONDS)
    runs, following = set(), {}
    for schedule in schedules.values():
        if not schedule.active or schedule.next_run_at > horizon:
            continue
        times = timing.next_runs(
            schedule.cron, schedule.timezone, schedule.next_run_at - timedelta(microseconds=1), 500
        )
        runs |= {(schedule.id, t) for t in times if t <= horizon}
        following[schedule.id] = next(t for t in times if t > horizon)
    return runs, following


def test_a_tick_of_many_schedules_dispatches_exactly_their_runs(queued, monkeypatch):
    now = tick_moment()
    monkeypatch.setattr(schedule_runs, "utcnow", lambda: now)
    schedules = add_schedules(400, now)
    runs, following = expected_runs(schedules, now)
    assert len(runs) > 250  # some not due, some off; the sub-minute ones have several

    assert tick() == len(runs)

    stored = db.session.scalars(select(ScheduleRun)).all()
    assert Counter((r.schedule_id, r.due_at) for r in stored) == Counter(runs)  # no duplicates
    assert {r.trigger for r in stored} == {"schedule"} and {r.status for r in stored} == {"pending"}
    db.session.expire_all()
    for schedule_id, after in following.items():
        assert db.session.get(Schedule, schedule_id).next_run_at == after
    jobs = db.session.scalars(select(JobLog).where(JobLog.task == "run_schedule")).all()
    by_run = {job.arguments["args"][0]: job for job in jobs}
    assert len(jobs) == len(by_run) == len(stored)
    tasks = {int(task.id): task for task in huey.pending()}
    assert len(tasks) == len(jobs)
    for run in stored:
        job = by_run[run.id]
        assert job.source == {"type": "schedule", "id": run.schedule_id}
        assert job.queue == schedules[run.schedule_id].queue and job.status == "pending"
        assert job.tags == ["schedule"]
        task = tasks[job.id]
        assert task.args == (run.id,)
        # due now: no delay; due later: queued with its delay (rounded to 0.1 s)
        delay = (run.due_at - now).total_seconds()
        if delay < 0.05:
            assert task.eta is None
        else:
            assert task.eta is not None
            assert abs((task.eta - job.created_at.replace(tzinfo=None)).total_seconds() - delay) < 1
    assert tick() == 0  # nothing twice
    assert db.session.query(ScheduleRun).count() == len(stored)


def test_two_schedulers_ticking_at_once_dispatch_each_run_once(database, tmp_path, monkeypatch):
    app = make_app(
        database,
        tmp_path,
        monkeypatch,
        QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}",
        HUEY_IMMEDIATE=False,
    )
    now = tick_moment()
    monkeypatch.setattr(schedule_runs, "utcnow", lambda: now)
    with app.app_context():
        runs, _ = expected_runs(add_schedules(300, now), now)
        db.session.remove()
    counts = []
    errors = []
    barrier = threading.Barrier(2)

    def scheduler():
        with app.app_context():
            barrier.wait()
            try:
                counts.append(tick())
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        stored = db.session.scalars(select(ScheduleRun)).all()
        assert Counter((r.schedule_id, r.due_at) for r in stored) == Counter(runs)
        jobs = db.session.scalars(select(JobLog).where(JobLog.task == "run_schedule")).all()
        assert sorted(job.arguments["args"][0] for job in jobs) == sorted(r.id for r in stored)
        assert sum(counts) == len(stored) == huey.pending_count()
        db.session.remove()
        db.engine.dispose()
