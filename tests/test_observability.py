"""/metrics in Prometheus's text format and /healthz, read as a monitoring system would."""

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.test_metrics import add_finished
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import Consumer, JobLog
from webapp.models.schedules import ScheduleRun
from webapp.services import consumers, metrics
from webapp.services import schedules as schedule_service

DAYS = {"--days": "30"}


def scrape(client, **headers) -> dict[str, dict]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    families = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        families[family.name] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
    return families


def test_metrics_need_a_user_or_the_metrics_token(client, app, login):
    assert client.get("/metrics").status_code == 401
    app.config["METRICS_TOKEN"] = "scrape-me"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(client, Authorization="Bearer scrape-me")
    app.config["METRICS_TOKEN"] = ""
    login("viewer")
    assert scrape(client)


def test_metrics_count_waiting_running_finished_and_durations(client, app, login):
    now = utcnow()
    db.session.add_all(
        [
            JobLog(task="a", queue="high", status="pending", created_at=now - timedelta(minutes=3)),
            JobLog(task="a", queue="high", status="pending", created_at=now - timedelta(minutes=1)),
            JobLog(task="b", queue="low", status="running", created_at=now),
        ]
    )
    db.session.commit()
    add_finished("a", "completed", 0.02, timedelta(hours=2), count=3)
    add_finished("a", "failed", 7, timedelta(minutes=10))
    add_finished("b", "cancelled", 0.5, timedelta(seconds=5))
    login("viewer")
    before = scrape(client)
    metrics.roll_up()
    families = scrape(client)
    # Rolling up moves jobs from the tail into the totals: no figure changes, none counts twice.
    aged = "jobdeck_oldest_waiting_job_age_seconds"  # grows between the two scrapes
    assert {k: v for k, v in families.items() if k != aged} == {
        k: v for k, v in before.items() if k != aged
    }
    waiting = families["jobdeck_jobs_waiting"]
    assert waiting[("jobdeck_jobs_waiting", (("queue", "high"),))] == 2
    assert waiting[("jobdeck_jobs_waiting", (("queue", "low"),))] == 0
    assert families["jobdeck_jobs_running"][("jobdeck_jobs_running", (("queue", "low"),))] == 1
    age = families["jobdeck_oldest_waiting_job_age_seconds"]
    assert 170 <= age[("jobdeck_oldest_waiting_job_age_seconds", (("queue", "high"),))] <= 240
    finished = families["jobdeck_jobs_finished"]
    assert finished[("jobdeck_jobs_finished_total", (("status", "completed"), ("task", "a")))] == 3
    assert finished[("jobdeck_jobs_finished_total", (("status", "failed"), ("task", "a")))] == 1
    assert finished[("jobdeck_jobs_finished_total", (("status", "cancelled"), ("task", "b")))] == 1
    hist = families["jobdeck_job_duration_seconds"]
    a = (("task", "a"),)
    assert hist[("jobdeck_job_duration_seconds_count", a)] == 4
    assert hist[("jobdeck_job_duration_seconds_bucket", (("le", "0.025"), *a))] == 3
    assert hist[("jobdeck_job_duration_seconds_bucket", (("le", "5.0"), *a))] == 3
    assert hist[("jobdeck_job_duration_seconds_bucket", (("le", "10.0"), *a))] == 4
    assert hist[("jobdeck_job_duration_seconds_sum", a)] == pytest.approx(7.06, abs=0.01)


def test_metrics_rolled_up_twice_never_count_twice(client, login):
    add_finished("a", "completed", 0.1, timedelta(hours=3), count=5)
    metrics.roll_up()
    metrics.roll_up()
    add_finished("a", "completed", 0.1, timedelta(seconds=1), count=2)
    login("viewer")
    finished = scrape(client)["jobdeck_jobs_finished"]
    assert finished[("jobdeck_jobs_finished_total", (("status", "completed"), ("task", "a")))] == 7


def test_metrics_show_consumers_and_schedule_success_age(client, login):
    consumers.register("host:1", 1, 2)
    nightly = schedule_service.create_schedule(
        {"name": "nightly", "command": "jobs prune", "cron": "0 3 * * *", "parameters": DAYS}
    )
    schedule_service.create_schedule(
        {"name": "never-ran", "command": "jobs prune", "cron": "0 4 * * *", "parameters": DAYS}
    )
    now = utcnow()
    for minutes, status in ((90, "succeeded"), (30, "failed")):
        at = now - timedelta(minutes=minutes)
        db.session.add(
            ScheduleRun(schedule_id=nightly.id, due_at=at, status=status, finished_at=at)
        )
    db.session.commit()
    login("viewer")
    families = scrape(client)
    assert families["jobdeck_consumers_alive"][("jobdeck_consumers_alive", ())] == 1
    ages = families["jobdeck_schedule_seconds_since_last_success"]
    assert list(ages) == [
        ("jobdeck_schedule_seconds_since_last_success", (("schedule", "nightly"),))
    ]
    assert 90 * 60 <= next(iter(ages.values())) < 95 * 60


def test_healthz_says_which_part_failed(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok" and body["queue"] == "ok"
    assert body["consumers"] == "no consumer has ever run"
    consumers.register("host:1", 1, 2)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "queue": "ok", "consumers": "ok"}
    db.session.query(Consumer).update({"heartbeat_at": utcnow() - timedelta(minutes=5)})
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["consumers"].startswith("no consumer beat in the last 30 s")
