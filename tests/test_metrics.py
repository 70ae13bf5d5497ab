"""The dashboard's measures: rolled-up stats agree with the job logs, never count twice, and
the dashboard shows durations, failure rates, the slowest and most failing tasks."""

from datetime import timedelta

from sqlalchemy import func, select

from tests.test_pages import HTMX, text
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog, JobStat
from webapp.services import metrics
from webapp.services import schedules as schedule_service


def add_finished(task: str, status: str, seconds: float, ago: timedelta, count: int = 1) -> None:
    """Job logs that finished ``ago`` before now after running ``seconds``."""
    finished = utcnow() - ago
    db.session.add_all(
        JobLog(
            task=task,
            queue="default",
            status=status,
            attempts=1,
            started_at=finished - timedelta(seconds=seconds),
            finished_at=finished,
        )
        for _ in range(count)
    )
    db.session.commit()


def by_task(reading: dict) -> dict[str, dict]:
    return {row["task"]: row for row in reading["tasks"]}


def test_durations_failure_rates_and_rankings_from_the_job_logs(app):
    for ms in range(1, 101):  # 1 ms .. 100 ms: p95 is 95 ms, mean 50.5 ms
        add_finished("fast_task", "completed", ms / 1000, timedelta(minutes=5))
    add_finished("slow_task", "completed", 40, timedelta(hours=3), count=3)
    add_finished("slow_task", "failed", 2, timedelta(hours=3))
    add_finished("flaky_task", "failed", 0.2, timedelta(minutes=10), count=4)
    add_finished("flaky_task", "completed", 0.2, timedelta(minutes=10))
    add_finished("fast_task", "cancelled", 0, timedelta(minutes=1))
    add_finished("old_task", "failed", 1, timedelta(hours=30))  # outside the day

    reading = metrics.dashboard()
    tasks = by_task(reading)
    assert "old_task" not in tasks
    fast = tasks["fast_task"]
    assert (fast["runs"], fast["completed"], fast["cancelled"], fast["failed"]) == (101, 100, 1, 0)
    assert fast["avg_duration_s"] == 0.051 or fast["avg_duration_s"] == 0.05
    # the histogram puts 95 ms between its 50 and 100 ms bounds: exact to the bucket
    assert 0.05 <= fast["p95_duration_s"] <= 0.1 and fast["max_duration_s"] == 0.1
    assert tasks["slow_task"]["failure_rate"] == 25.0
    assert tasks["flaky_task"]["failure_rate"] == 80.0
    assert reading["slowest"][0]["task"] == "slow_task"
    assert [row["task"] for row in reading["most_failing"]] == ["flaky_task", "slow_task"]
    assert reading["day_totals"] == {
        "completed": 104,
        "failed": 5,
        "cancelled": 1,
        "failure_rate": round(100 * 5 / 109, 1),
    }
    assert reading["hour_totals"]["failed"] == 4 and reading["hour_totals"]["completed"] == 101
    assert sum(b["completed"] for b in reading["last_hour"]) == 101
    assert sum(b["failed"] for b in reading["last_day"]) == 5


def test_rolling_up_changes_no_figure_and_never_counts_twice(app):
    add_finished("fast_task", "completed", 0.03, timedelta(minutes=3), count=7)
    add_finished("fast_task", "failed", 0.5, timedelta(minutes=70), count=2)
    add_finished("slow_task", "completed", 12, timedelta(hours=5), count=2)
    before = metrics.dashboard()
    written = metrics.roll_up(utcnow() + timedelta(minutes=2))
    assert written == 3  # three minutes had finished jobs
    assert metrics.rolled_up_until() is not None
    assert metrics.dashboard() == before
    assert metrics.roll_up(utcnow() + timedelta(minutes=2)) == 0
    # a job finishing after the roll-up is read from the job logs until the next one
    add_finished("fast_task", "completed", 0.03, timedelta(seconds=0))
    after = by_task(metrics.dashboard())
    assert after["fast_task"]["completed"] == 8
    metrics.roll_up(utcnow() + timedelta(minutes=2))
    assert by_task(metrics.dashboard())["fast_task"]["completed"] == 8
    hours = db.session.scalar(
        select(func.sum(JobStat.count)).where(JobStat.period == "hour", JobStat.task == "fast_task")
    )
    assert hours == 10


def test_a_roll_up_waits_for_a_minute_to_settle(app):
    add_finished("fast_task", "completed", 0.01, timedelta(seconds=1))
    assert metrics.roll_up() == 0  # this minute is still open
    assert by_task(metrics.dashboard())["fast_task"]["completed"] == 1


def test_the_dashboard_shows_the_measures_live(client, login, app):
    login("viewer")
    add_finished("slow_task", "completed", 75, timedelta(minutes=20), count=2)
    add_finished("flaky_task", "failed", 0.2, timedelta(minutes=10), count=3)
    schedule_service.create_schedule(
        {
            "name": "nightly prune",
            "command": "jobs prune",
            "parameters": {"--days": "30"},
            "cron": "0 3 * * *",
        }
    )
    body = text(client.get("/", headers=HTMX))
    assert "Slowest tasks" in body and "Most failing tasks" in body
    assert "1 min 15 s" in body  # slow_task's p95 and longest
    assert "3 failed · 100 %" in body
    assert "nightly prune" in body and "never run" in body
    assert "failure rate · 24 h" in body and "60 %" in body
    assert "(server)" in body


def test_waiting_time_percentiles_over_the_last_hour(app):
    now = utcnow()
    for wait in range(1, 101):  # waited 1 .. 100 s, finished a minute ago
        started = now - timedelta(minutes=2)
        db.session.add(
            JobLog(
                task="t",
                status="completed",
                created_at=started - timedelta(seconds=wait),
                started_at=started,
                finished_at=now - timedelta(minutes=1),
            )
        )
    db.session.add(
        JobLog(
            task="t",
            status="completed",
            created_at=now - timedelta(hours=3),
            started_at=now - timedelta(hours=2),
            finished_at=now - timedelta(hours=2),
        )
    )
    db.session.commit()
    assert metrics.waiting_times(now) == {"p50_s": 51.0, "p95_s": 96.0, "count": 100}
    assert metrics.waiting_times(now + timedelta(hours=5))["count"] == 0


def test_waiting_times_keep_the_microseconds(app):
    """A wait across a second's boundary that rounding the times to milliseconds would show
    as 1.001 s, and a delayed job's wait from when it was due."""
    now = utcnow().replace(microsecond=400)
    started = now - timedelta(minutes=2)
    for created, due in [
        (started - timedelta(microseconds=1_001_800), None),  # …:58.998600 → …:00.000400
        (started - timedelta(seconds=30), started - timedelta(microseconds=2_600)),
    ]:
        db.session.add(
            JobLog(
                task="t",
                status="completed",
                attempts=1,
                created_at=created,
                next_attempt_at=due,
                started_at=started,
                finished_at=now - timedelta(minutes=1),
            )
        )
    db.session.commit()
    assert metrics.waiting_times(now) == {"p50_s": 1.002, "p95_s": 1.002, "count": 2}
