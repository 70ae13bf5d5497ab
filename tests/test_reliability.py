"""Retry policies, uniqueness, pauses, batches, lost jobs, locks, alerts and retention."""

import json
import re
from datetime import timedelta

from sqlalchemy import func, select

from jobkit import Call, RetryPolicy, locks, pauses, tracked_task
from tasks.samples import sample_job
from tasks.upkeep import finish_batches, handle_lost_jobs
from tests.conftest import make_app
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import Consumer, JobBatch, JobLog
from webapp.services import alerts, batches
from webapp.services import jobs as job_service


def job(job_id: int) -> JobLog:
    db.session.expire_all()
    return db.session.get(JobLog, job_id)


calls: list[int] = []


@tracked_task(retries=3, retry_delays=[0], name="test_often_failing")
def often_failing(times: int) -> None:
    calls.append(1)
    if len(calls) <= times:
        raise RuntimeError(f"failure {len(calls)}")


def test_each_attempt_keeps_its_error(app):
    calls.clear()
    job_id = often_failing.dispatch(times=2)
    row = job(job_id)
    assert row.status == "completed" and row.attempts == 3
    assert [(a["attempt"], a["error"]) for a in row.attempt_errors] == [
        (1, "RuntimeError: failure 1"),
        (2, "RuntimeError: failure 2"),
    ]
    assert row.to_dict()["attempt_errors"][0]["at"].endswith("Z")


def test_backoff_grows_with_jitter_and_a_cap(app):
    policy = RetryPolicy(retries=6, backoff=10, max_delay=60)
    for retry, ceiling in ((1, 10), (2, 20), (3, 40), (4, 60), (6, 60)):
        delays = {policy.delay_before_retry(retry) for _ in range(30)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (retry, delays)
        assert len(delays) > 1  # jittered
    listed = RetryPolicy(retries=3, delays=[5, 50])
    assert [listed.delay_before_retry(n) for n in (1, 2, 3)] == [5, 50, 50]
    app.config["RETRY_DELAYS"] = [60, 300, 600]
    from jobkit import OUTSIDE_SERVICE

    outside = RetryPolicy(delays=OUTSIDE_SERVICE)
    assert outside.max_attempts() == 4 and outside.delay_before_retry(3) == 600


def test_a_retrying_job_shows_its_next_attempt(tmp_path, monkeypatch, database):
    app = make_app(database, tmp_path, monkeypatch, RETRY_DELAYS=[120])
    with app.app_context():
        calls.clear()
        from tasks.series import import_series_data
        from webapp.services.series import add_series

        app.config["TVMAZE_URL"] = "http://127.0.0.1:9"
        series = add_series(tvmaze_id=1)
        job_id = import_series_data.dispatch(series.id)
        row = job(job_id)
        assert row.status == "pending" and row.attempts == 1 and row.max_attempts == 2
        assert row.message == "Attempt 1 of 2 failed; retrying in 120 s."
        wait = (row.next_attempt_at - utcnow()).total_seconds()
        assert 100 < wait <= 120
        db.session.remove()
        db.engine.dispose()


def test_a_unique_key_returns_the_job_already_waiting(queued):
    from jobkit import huey
    from tasks.series import import_series_data

    first = import_series_data.dispatch(7)
    assert import_series_data.dispatch(7) == first
    ids = import_series_data.dispatch_many([Call((7,)), Call((8,)), Call((8,))])
    assert ids[0] == first and ids[1] == ids[2] != first
    assert huey.pending_count() == 2
    assert db.session.scalar(select(func.count()).select_from(JobLog)) == 2
    job_service.cancel_job(first)  # finished jobs free the key
    assert import_series_data.dispatch(7) != first


def test_a_paused_queue_holds_its_jobs_without_failing_them(app, runner):
    assert runner.invoke(args=["queue", "pause", "default"]).output.strip() == (
        "The queue default is paused."
    )
    job_id = sample_job.dispatch(steps=1, step_seconds=0)
    row = job(job_id)
    assert row.status == "pending" and row.attempts == 0
    assert row.message == "Waiting: the default queue is paused."
    other = sample_job.dispatch(steps=1, step_seconds=0, queue="high")
    assert job(other).status == "completed"  # other queues run
    assert runner.invoke(args=["queue", "resume", "default"]).exit_code == 0
    assert pauses.is_paused("default", "sample_job") is None
    bad = runner.invoke(args=["queue", "pause", "urgent"])
    assert bad.exit_code == 1 and "unknown queue" in bad.output
    assert runner.invoke(args=["queue", "pause", "--task", "sample_job"]).exit_code == 0
    assert pauses.is_paused("high", "sample_job") == "the task sample_job is paused"


def test_pause_through_the_api_and_the_dashboard(client, bearer, login):
    headers = bearer("operator")
    assert client.post("/api/queues/low/pause", headers=headers).get_json()[0]["name"] == "low"
    assert client.post("/api/tasks/nope/pause", headers=headers).status_code == 404
    assert client.post("/api/queues/low/pause", headers=bearer("viewer")).status_code == 403
    assert client.post("/api/queues/low/resume", headers=headers).get_json() == []
    login("operator")
    client.post("/pause", data={"kind": "queue", "name": "high", "action": "pause"})
    page = client.get("/").get_data(as_text=True)
    assert "paused" in page and "Resume" in page
    assert (
        client.post("/pause", data={"kind": "queue", "name": "x", "action": "pause"}).status_code
        == 400
    )


def test_a_batch_counts_its_jobs_and_runs_its_callback_once(app, client, bearer):
    batch = batches.create_batch("three", 3, callback_task="sample_job")
    ids = sample_job.dispatch_many(
        [
            Call(kwargs={"steps": 1, "step_seconds": 0}),
            Call(kwargs={"steps": 1, "step_seconds": 0}),
            Call(kwargs={"steps": 1, "step_seconds": 0, "fail_at_step": 1}),
        ],
        batch_id=batch.id,
    )
    body = client.get(f"/api/batches/{batch.id}", headers=bearer("viewer")).get_json()
    assert (body["total"], body["done"], body["failed"], body["progress"]) == (3, 3, 1, 100)
    finish_batches()
    finish_batches()
    callbacks = db.session.scalars(select(JobLog).where(JobLog.source_type == "batch")).all()
    assert len(callbacks) == 1 and callbacks[0].source_id == batch.id
    assert db.session.get(JobBatch, batch.id).finished_at is not None

    retried = client.post(f"/api/batches/{batch.id}/retry-failed", headers=bearer("operator"))
    assert retried.status_code == 202 and retried.get_json()["retried"] == 1
    assert job(retried.get_json()["job_ids"][0]).retry_of == ids[2]
    assert client.get("/api/batches/999", headers=bearer("viewer")).status_code == 404
    headers = {**bearer("viewer"), "Accept": "text/html"}
    page = client.get(f"/batches/{batch.id}", headers=headers).get_data(as_text=True)
    assert all(f'href="/jobs/{job_id}"' in page for job_id in ids)  # its jobs, each linked
    callback = callbacks[0].id
    assert f'href="/batches/{batch.id}"' in client.get(
        f"/jobs/{callback}", headers=headers
    ).get_data(as_text=True)  # and the callback job links back to its batch


broken_members: set[int] = set()


@tracked_task(name="test_batch_member")
def batch_member(n: int) -> None:
    if n in broken_members:
        raise RuntimeError(f"member {n} is broken")


def bar_segments(page: str) -> dict[str, str]:
    """The batch bar's coloured parts: status -> width (in percent of the bar)."""
    bar = re.search(r'<svg class="batch-bar".*?</svg>', page, re.S).group(0)
    return dict(re.findall(r'<rect class="bar-(\w+)" x="[\d.]+" y="0" width="([\d.]+)"', bar))


def test_a_retried_batch_counts_each_member_once_by_its_latest_attempt(client, bearer, login):
    broken_members.clear()
    broken_members.update({1, 2})
    batch = batches.create_batch("two", 2)
    batch_member.dispatch_many([Call((1,)), Call((2,))], batch_id=batch.id)
    finish_batches()
    login("operator")
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert bar_segments(page) == {"failed": "100.0"}  # all failed: all red, no other part
    assert "Retry 2 failed" in page

    broken_members.discard(1)  # member 1 will work on its retry, member 2 fails again
    retried = client.post(f"/api/batches/{batch.id}/retry-failed", headers=bearer("operator"))
    assert retried.get_json()["retried"] == 2
    body = client.get(f"/api/batches/{batch.id}", headers=bearer("viewer")).get_json()
    assert (body["total"], body["done"], body["failed"]) == (2, 2, 1)
    assert body["counts"]["completed"] == 1
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert bar_segments(page) == {"completed": "50.0", "failed": "50.0"}
    assert "Retry 1 failed" in page

    broken_members.clear()
    client.post(f"/batches/{batch.id}/retry-failed")  # the page's button
    body = client.get(f"/api/batches/{batch.id}", headers=bearer("viewer")).get_json()
    assert (body["total"], body["done"], body["failed"], body["progress"]) == (2, 2, 0, 100)
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert "Retry" not in page and bar_segments(page) == {"completed": "100.0"}
    listed = client.get("/batches").get_data(as_text=True)
    assert "2 / 2" in listed
    again = client.post(f"/api/batches/{batch.id}/retry-failed", headers=bearer("operator"))
    assert again.get_json()["retried"] == 0


def test_a_finished_batch_page_follows_its_retries_again(client, login, runner):
    broken_members.clear()
    broken_members.add(7)
    batch = batches.create_batch("one", 1)
    batch_member.dispatch_many([Call((7,))], batch_id=batch.id)
    finish_batches()
    login("operator")
    assert "hx-trigger" not in client.get(f"/batches/{batch.id}").get_data(as_text=True)
    runner.invoke(args=["queue", "pause", "--task", "test_batch_member"])  # the retry waits
    client.post(f"/batches/{batch.id}/retry-failed")
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in page and "Retry" not in page
    assert "0%" in page and bar_segments(page) == {}


def test_cancelling_a_batch_cancels_its_waiting_jobs(app, client, login):
    batch = batches.create_batch("later", 2)
    ids = sample_job.dispatch_many([Call(), Call()], batch_id=batch.id, delay=3600)
    login("operator")
    client.post(f"/batches/{batch.id}/cancel")
    assert {job(i).status for i in ids} == {"cancelled"}
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert "later" in page and "100%" in page


def test_import_missing_dispatches_its_jobs_as_a_batch(runner, fake_tvmaze):
    for show_id in (1, 2):
        fake_tvmaze.add_show(show_id, f"Show {show_id}")
        runner.invoke(args=["series", "add", "--tvmaze", str(show_id)])
    runner.invoke(args=["series", "import-missing-data"])
    batch = db.session.scalars(select(JobBatch)).one()
    assert batch.name == "Series data (2)"
    assert batches.progress(batch.id).counts["completed"] == 2


def running_job(consumer_id: str | None, task: str = "sample_job") -> int:
    job_id = sample_job.dispatch(delay=3600)
    row = db.session.get(JobLog, job_id)
    row.task, row.status, row.attempts, row.consumer_id = task, "running", 1, consumer_id
    row.started_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    return job_id


def test_jobs_of_a_dead_consumer_are_requeued_or_failed(app, runner):
    db.session.add(
        Consumer(
            id="box:1",
            hostname="box",
            pid=1,
            workers=2,
            heartbeat_at=utcnow() - timedelta(minutes=2),
        )
    )
    db.session.add(Consumer(id="box:2", hostname="box", pid=2, workers=2, heartbeat_at=utcnow()))
    db.session.commit()
    rerunnable = running_job("box:1")
    not_safe = running_job("box:1", task="check_integration_updates")
    healthy = running_job("box:2")
    outcome = handle_lost_jobs()
    assert outcome == {"requeued": 1, "failed": 1, "gone": 0}
    # immediate mode runs the re-queued job at once
    assert job(rerunnable).status == "completed"
    assert (
        job(rerunnable).attempt_errors[0]["error"] == "WorkerLost: consumer box:1 stopped answering"
    )
    # the lost run was an attempt: the re-run is the second, one more than the task allowed
    shown = json.loads(runner.invoke(args=["jobs", "show", str(rerunnable), "--json"]).output)
    assert (shown["attempts"], shown["max_attempts"]) == (2, 2)
    lost = job(not_safe)
    assert lost.status == "failed" and lost.error.startswith("WorkerLost")
    assert "not marked safe to re-run" in lost.message
    assert job(healthy).status == "running"
    assert handle_lost_jobs() == {"requeued": 0, "failed": 0, "gone": 0}


@tracked_task(retries=2, retry_delays=[0], rerun_if_lost=True, name="test_lost_then_flaky")
def lost_then_flaky(times: int) -> None:
    calls.append(1)
    if len(calls) <= times:
        raise RuntimeError(f"failure {len(calls)}")


def test_a_lost_run_counts_as_an_attempt_and_keeps_the_retries_left(app):
    calls.clear()
    db.session.add(Consumer(id="gone:1", hostname="gone", pid=1, workers=1, heartbeat_at=utcnow()))
    db.session.get(Consumer, "gone:1").heartbeat_at = utcnow() - timedelta(minutes=2)
    job_id = lost_then_flaky.dispatch(2, delay=3600)
    row = db.session.get(JobLog, job_id)
    # lost during its second attempt, with one retry left
    row.status, row.attempts, row.consumer_id = "running", 2, "gone:1"
    row.started_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert handle_lost_jobs()["requeued"] == 1
    done = job(job_id)  # immediate mode: the re-run fails twice, the second time for good
    assert (done.status, done.attempts, done.max_attempts) == ("failed", 4, 4)
    assert [(a["attempt"], a["error"]) for a in done.attempt_errors] == [
        (2, "WorkerLost: consumer gone:1 stopped answering"),
        (3, "RuntimeError: failure 1"),
        (4, "RuntimeError: failure 2"),
    ]
    assert done.message == "Failed after 4 attempt(s)."


def test_locks_exclude_and_expire(app):
    assert locks.acquire("nightly", "a", ttl_seconds=60)
    assert not locks.acquire("nightly", "b", ttl_seconds=60)
    assert locks.acquire("nightly", "a", ttl_seconds=60)  # the holder may extend it
    assert locks.acquire("brief", "a", ttl_seconds=-1)  # already expired
    assert locks.acquire("brief", "b", ttl_seconds=60)  # so another may take it
    locks.release("nightly", "a")
    assert locks.acquire("nightly", "b", ttl_seconds=60)


def test_one_alert_when_failures_spike_posted_once_and_cleared(app, fake_tvmaze, client, bearer):
    from tests.fake_tvmaze import FakeServer, FakeTVmaze

    received = []
    hook = FakeTVmaze()
    hook.route = lambda request: received.append(json.loads(request.data)) or _ok()
    server = FakeServer(hook)
    app.config.update(ALERT_FAILED_PER_HOUR=2, ALERT_WEBHOOK_URL=server.url + "/hook")
    try:
        for _ in range(3):
            sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
        alerts.check_failure_rate()
        alerts.check_failure_rate()
        open_ = client.get("/api/alerts", headers=bearer("viewer")).get_json()
        assert len(open_) == 1 and open_[0]["message"].startswith("3 jobs failed in the last hour")
        assert [r["state"] for r in received] == ["raised"]
        db.session.query(JobLog).update({"finished_at": utcnow() - timedelta(hours=2)})
        db.session.commit()
        alerts.check_failure_rate()
        assert alerts.open_alerts() == []
        assert [r["state"] for r in received] == ["raised", "cleared"]
    finally:
        server.stop()


def _ok():
    from werkzeug.wrappers import Response

    return Response("{}", 200, mimetype="application/json")


def test_a_failing_webhook_is_logged_not_raised(app):
    app.config.update(ALERT_FAILED_PER_HOUR=0, ALERT_WEBHOOK_URL="http://127.0.0.1:9/hook")
    sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    alerts.check_failure_rate()
    assert len(alerts.open_alerts()) == 1 and not alerts.open_alerts()[0].notified


def test_prune_works_in_chunks(app):
    ids = sample_job.dispatch_many([Call(kwargs={"steps": 1, "step_seconds": 0})] * 25)
    db.session.query(JobLog).update({"finished_at": utcnow() - timedelta(days=40)})
    db.session.commit()
    seen = []
    deleted = job_service.prune_jobs(30, chunk_size=10, on_progress=seen.append)
    assert deleted == len(ids) == 25 and seen == [10, 20, 25]


def test_failed_filters_and_delete_selected(client, login, runner):
    login("admin")
    a = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    b = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1, queue="low")
    page = client.get("/failed?queue=low").get_data(as_text=True)
    assert f"#{b}" in page and f"#{a}" not in page
    assert "No failed jobs match" in client.get("/failed?error=nothing-like-it").get_data(
        as_text=True
    )
    assert client.get("/failed?since=yesterday").status_code == 400
    listed = json.loads(runner.invoke(args=["queue", "failed", "--queue", "low", "--json"]).output)
    assert [j["id"] for j in listed] == [b]
    client.post("/failed/retry", data={"all": "1", "queue": "low"})
    assert job_service.retried_by(b) is not None and job_service.retried_by(a) is None
    client.post("/failed/delete", data={"ids": [str(a)]})
    assert job(a) is None


def test_a_periodic_tick_acts_once_however_many_consumers_run_it(app):
    from tasks.integrations import integration_updates_tick

    integration_updates_tick.call_local()
    integration_updates_tick.call_local()  # a second consumer, same minute
    count = db.session.scalar(
        select(func.count()).where(JobLog.task == "check_integration_updates")
    )
    assert count == 2  # one check now and one in 30 s, not four
