"""Tracked jobs through real consumer processes."""

from sqlalchemy import select

from jobkit import Call, huey
from tasks.samples import noop, sample_job
from tests.e2e.conftest import wait_for
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.services import jobs as job_service


def get(job_id: int) -> JobLog:
    return db.session.get(JobLog, job_id)


def test_a_job_runs_with_live_progress_and_completes(e2e):
    job_id = sample_job.dispatch(steps=8, step_seconds=0.25)
    assert get(job_id).status == "pending"
    consumer = e2e["start"]()
    row = wait_for(
        lambda: (j := get(job_id)).status == "running" and 0 < j.progress < 100 and j,
        what="progress while running",
    )
    assert row.message.startswith("Step ") and row.started_at is not None
    wait_for(lambda: get(job_id).status == "completed", what="completion")
    done = get(job_id)
    assert done.progress == 100 and done.attempts == 1 and done.duration_s >= 2.0
    assert done.worker and done.message == "Counted 8 steps."
    assert "Traceback" not in consumer.output()


def test_a_worker_takes_high_before_default_before_low(e2e):
    ids = {}
    for queue in ("low", "default", "high"):
        ids[queue] = [noop.dispatch(queue=queue) for _ in range(3)]
    e2e["start"](workers=1)
    wait_for(
        lambda: all(get(i).status == "completed" for group in ids.values() for i in group),
        what="all nine jobs",
    )
    # (the consumer's own periodic check may add jobs of other tasks; only these nine count)
    started = db.session.scalars(
        select(JobLog).where(JobLog.task == "noop").order_by(JobLog.started_at, JobLog.id)
    ).all()
    # The one worker takes them strictly by priority, FIFO within a queue. The consumer's
    # reserved worker takes ``high`` jobs too, so two high jobs may start at the same moment in
    # either order; default and low are the one worker's alone.
    others = [job for job in started if job.queue != "high"]
    assert [job.id for job in others] == ids["default"] + ids["low"]
    high = [job for job in started if job.queue == "high"]
    assert sorted(job.id for job in high) == ids["high"]
    # Every high job was taken before the first default one, so it started before the second
    # default one began (the first default job ran in between).
    assert max(job.started_at for job in high) < others[1].started_at


def test_cancelling_a_running_job_stops_it_at_its_next_report(e2e):
    job_id = sample_job.dispatch(steps=200, step_seconds=0.05)
    e2e["start"]()
    wait_for(lambda: get(job_id).status == "running", what="running")
    job_service.cancel_job(job_id)
    wait_for(lambda: get(job_id).status == "cancelled", what="cancelled", timeout=10)
    row = get(job_id)
    assert row.progress < 100 and row.message == "Cancelled while running."


def test_a_cancelled_pending_job_never_runs(e2e):
    job_id = sample_job.dispatch(steps=1, step_seconds=0)
    later = sample_job.dispatch(steps=1, step_seconds=0)
    job_service.cancel_job(job_id)
    e2e["start"]()
    wait_for(lambda: get(later).status == "completed", what="the job after it")
    row = get(job_id)
    assert row.status == "cancelled" and row.started_at is None and row.attempts == 0


def test_a_failed_job_retried_by_an_operator_runs_again(e2e):
    failed = sample_job.dispatch(steps=2, step_seconds=0, fail_at_step=1)
    e2e["start"]()
    wait_for(lambda: get(failed).status == "failed", what="failure")
    assert "SampleJobFailure" in get(failed).error
    new_id = job_service.retry_job(failed)
    wait_for(lambda: get(new_id).status == "failed", what="the retry's failure")
    assert get(new_id).retry_of == failed


def test_bulk_dispatch_is_drained_by_the_consumer(e2e):
    ids = noop.dispatch_many([Call() for _ in range(500)])
    assert huey.pending_count() == 500
    e2e["start"]()
    wait_for(
        lambda: db.session.query(JobLog).filter_by(task="noop", status="completed").count() == 500,
        what="500 completed jobs",
        timeout=60,
    )
    assert get(ids[-1]).attempts == 1


def test_a_delayed_bulk_dispatch_runs_after_its_delay(e2e):
    # queued in one round trip like any bulk dispatch; the worker that takes each early puts
    # it on Huey's schedule, and the scheduler hands it back when it is due
    e2e["start"]()
    ids = noop.dispatch_many([Call() for _ in range(5)], delay=3)
    wait_for(lambda: all(get(i).status == "completed" for i in ids), what="the delayed jobs")
    for job_id in ids:
        job = get(job_id)
        # Huey's scheduler looks once a second and may hand a task back up to a second early
        assert (job.started_at - job.created_at).total_seconds() >= 1.5
