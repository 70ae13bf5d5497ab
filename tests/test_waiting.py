"""Why a pending job is not running: each reason in words, in the order they are checked."""

from datetime import timedelta

from jobkit import pauses
from tasks.samples import sample_job
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.services import consumers
from webapp.services.metrics import waiting_times
from webapp.services.waiting import jobs_ahead, waiting_counts, waiting_reason, waiting_reasons


def job(**fields) -> JobLog:
    row = JobLog(task=fields.pop("task", "sample_job"), status=fields.pop("status", "pending"))
    for key, value in fields.items():
        setattr(row, key, value)
    db.session.add(row)
    db.session.commit()
    return row


def test_a_job_that_is_not_pending_has_no_reason(app):
    assert waiting_reason(job(status="running")) is None
    assert waiting_reason(job(status="failed")) is None


def test_no_consumer_alive_is_said_with_when_one_was_last_seen(app):
    waiting = job()
    reason = waiting_reason(waiting)
    assert reason.code == "no_consumer" and "none has ever run" in reason.message
    consumers.register("host:1", 1, 2)
    consumers.stopped("host:1")
    reason = waiting_reason(waiting)
    assert reason.code == "no_consumer" and "last seen at" in reason.message


def test_a_retry_wait_names_the_time_and_the_attempt(app):
    consumers.register("host:1", 1, 2)
    at = utcnow() + timedelta(minutes=5)
    reason = waiting_reason(job(next_attempt_at=at, attempts=1, max_attempts=4))
    assert reason.code == "retry"
    assert at.strftime("%Y-%m-%d %H:%M") in reason.message and "attempt 2 of 4" in reason.message


def test_a_paused_queue_or_task_says_who_paused_it(app, users):
    consumers.register("host:1", 1, 2)
    pauses.pause("queue", "low", user_id=users["operator"].id)
    reason = waiting_reason(job(queue="low"))
    assert reason.code == "paused"
    assert "the low queue was paused by" in reason.message
    assert users["operator"].email in reason.message
    pauses.pause("task", "sample_job")
    assert "the task sample_job was paused" in waiting_reason(job(queue="high")).message


def test_all_workers_busy_names_the_jobs_they_run(app):
    consumers.register("host:1", 1, 2)
    first, second = job(status="running"), job(status="running")
    reason = waiting_reason(job())
    assert reason.code == "busy"
    assert reason.message == f"All 2 workers are busy (with jobs #{first.id}, #{second.id})."


def test_jobs_ahead_count_higher_queues_and_older_jobs_of_its_own(app):
    consumers.register("host:1", 1, 4)
    job(queue="high")
    job(queue="default")
    job(queue="default", next_attempt_at=utcnow() + timedelta(hours=1))  # not ahead: waits
    mine = job(queue="default")
    job(queue="low")
    job(queue="default")  # newer: behind
    assert waiting_reason(mine).message == "2 jobs are ahead of it in the queues."
    first = db.session.get(JobLog, 1)
    assert waiting_reason(first).message.startswith("Next in line")


def test_reasons_for_a_page_and_counts_for_the_dashboard(app):
    consumers.register("host:1", 1, 1)
    retrying = job(next_attempt_at=utcnow() + timedelta(minutes=1), attempts=1)  # a retry
    pauses.pause("queue", "low")
    paused = job(queue="low")
    queued = job()
    done = job(status="completed")
    reasons = waiting_reasons([retrying, paused, queued, done])
    assert {i: r.code for i, r in reasons.items()} == {
        retrying.id: "retry",
        paused.id: "paused",
        queued.id: "queued",
    }
    assert waiting_counts() == {
        "scheduled": 0,
        "retry": 1,
        "paused": 1,
        "no_consumer": 0,
        "busy": 0,
        "queued": 1,
    }
    job(status="running")
    assert waiting_counts()["busy"] == 1


def test_the_api_says_why_a_pending_job_waits(client, bearer, app):
    waiting = job()
    done = job(status="completed")
    listed = client.get("/api/job-logs", headers=bearer("viewer")).get_json()["items"]
    reasons = {item["id"]: item["waiting_reason"] for item in listed}
    assert reasons[done.id] is None
    assert reasons[waiting.id]["code"] == "no_consumer"
    assert reasons[waiting.id]["message"].startswith("No consumer is alive")
    one = client.get(f"/api/job-logs/{waiting.id}", headers=bearer("viewer")).get_json()
    assert one["waiting_reason"] == reasons[waiting.id]
    description = client.get("/api/openapi.json").get_json()
    assert "waiting_reason" in description["components"]["schemas"]["JobLog"]["properties"]


def test_a_pending_jobs_page_says_why_it_waits(client, login, app):
    login("viewer")
    consumers.register("host:1", 1, 2)
    at = utcnow() + timedelta(minutes=5)
    waiting = job(next_attempt_at=at, attempts=1, max_attempts=3)
    page = client.get(f"/jobs/{waiting.id}").get_data(as_text=True)
    assert 'data-reason="retry"' in page and "attempt 2 of 3" in page
    done = job(status="completed")
    assert "Why it waits" not in client.get(f"/jobs/{done.id}").get_data(as_text=True)


def test_a_delayed_job_says_when_it_starts_and_holds_no_one_up(app, client, bearer):
    consumers.register("host:1", 1, 2)
    delayed = db.session.get(JobLog, sample_job.dispatch(queue="low", delay=120))
    due = delayed.next_attempt_at
    assert due is not None and 110 < (due - utcnow()).total_seconds() <= 120
    reason = waiting_reason(delayed)
    assert reason.code == "scheduled"
    assert reason.message == f"Scheduled: it starts at {due:%Y-%m-%d %H:%M:%S} UTC."
    after = job(queue="low")
    assert jobs_ahead(after) == 0  # not due yet, so no worker takes it first
    assert waiting_counts()["scheduled"] == 1
    shown = client.get(f"/api/job-logs/{delayed.id}", headers=bearer("viewer")).get_json()
    assert shown["waiting_reason"]["code"] == "scheduled" and shown["next_attempt_at"]
    # once started, its wait counts from when it was due, not from its dispatch
    delayed.status, delayed.attempts = "completed", 1
    delayed.started_at = due + timedelta(seconds=2)
    delayed.finished_at = due + timedelta(seconds=3)
    db.session.commit()
    assert waiting_times(now=due + timedelta(seconds=10))["p95_s"] == 2.0
