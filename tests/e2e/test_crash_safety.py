"""A consumer killed mid-job: its job is noticed and re-queued, not left running."""

import signal

from tasks.samples import sample_job
from tests.e2e.conftest import wait_for
from webapp.extensions import db
from webapp.models.jobs import JobLog


def get(job_id: int) -> JobLog:
    return db.session.get(JobLog, job_id)


def test_a_job_whose_consumer_was_killed_is_requeued_and_completes(e2e):
    job_id = sample_job.dispatch(steps=40, step_seconds=0.1)
    first = e2e["start"](workers=1)
    wait_for(lambda: get(job_id).status == "running" and get(job_id).progress >= 10, what="running")
    lost_consumer = get(job_id).consumer_id
    first.process.send_signal(signal.SIGKILL)  # no goodbye, no flush
    first.process.wait()
    assert get(job_id).status == "running"  # as the dead consumer left it

    e2e["start"](workers=1)
    requeued = wait_for(
        lambda: (j := get(job_id)).consumer_id != lost_consumer and j.attempt_errors and j,
        timeout=75,
        what="the lost job to be noticed",
    )
    assert requeued.attempt_errors[0]["error"].startswith("WorkerLost: consumer ")
    wait_for(lambda: get(job_id).status == "completed", timeout=30, what="completion")
    done = get(job_id)
    assert done.progress == 100 and done.consumer_id != lost_consumer
    assert (done.attempts, done.max_attempts) == (2, 2)  # the lost run was an attempt


def test_sigterm_requeues_the_running_job(e2e):
    job_id = sample_job.dispatch(steps=60, step_seconds=0.1)
    first = e2e["start"](workers=1)
    wait_for(lambda: get(job_id).status == "running", what="running")
    first.stop(signal.SIGTERM)
    row = wait_for(lambda: get(job_id).status == "pending" and get(job_id), what="re-queued")
    assert "Interrupted" in row.message
    e2e["start"](workers=1)
    wait_for(lambda: get(job_id).status == "completed", timeout=30, what="completion")
