"""Tracked tasks in immediate mode: every run is a job-log row with its whole story."""

import pytest
from sqlalchemy import event, func, select

from jobkit import Call, current_job, huey, tracked_task
from jobkit.recorder import JobRecorder
from tasks.samples import noop, sample_job
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.services import jobs as job_service


def job(job_id: int) -> JobLog:
    db.session.expire_all()
    return db.session.get(JobLog, job_id)


@tracked_task(queue="high", name="test_reporting_task")
def reporting_task(series_id: int, note: str = "") -> str:
    job = current_job()
    job.link("series", series_id)
    job.report(progress=40, message="halfway there", fetched=3)
    job.report(message="almost", note=note)
    return "done with it"


attempts_seen: list[int] = []


@tracked_task(retries=2, retry_delays=[0], name="test_flaky_task")
def flaky_task(fail_times: int) -> None:
    attempts_seen.append(1)
    if len(attempts_seen) <= fail_times:
        raise ConnectionError(f"upstream down (call {len(attempts_seen)})")


def test_a_completed_job_has_its_whole_story(app, users):
    job_id = sample_job.dispatch(steps=2, step_seconds=0, user_id=users["operator"].id)
    row = job(job_id)
    assert row.status == "completed"
    assert row.progress == 100
    assert row.attempts == 1 and row.max_attempts == 1
    assert row.message == "Counted 2 steps."
    assert row.payload == {"steps": 2, "step_seconds": 0, "step": 2}
    assert row.user_id == users["operator"].id
    assert row.started_at <= row.finished_at
    assert row.duration_s is not None and row.duration_s >= 0
    assert row.error is None and row.traceback is None
    data = row.to_dict()
    assert data["created_at"].endswith("Z") and data["finished_at"].endswith("Z")


def test_a_task_reports_progress_message_payload_and_its_record(app):
    job_id = reporting_task.dispatch(17, note="from a test")
    row = job(job_id)
    assert row.queue == "high"
    assert row.source == {"type": "series", "id": 17}
    assert row.payload == {"series_id": 17, "note": "from a test", "fetched": 3}
    assert row.message == "done with it"
    assert row.status == "completed"


def test_a_failing_job_keeps_error_and_traceback(app):
    job_id = sample_job.dispatch(steps=3, step_seconds=0, fail_at_step=2)
    row = job(job_id)
    assert row.status == "failed"
    assert row.error == "SampleJobFailure: failed at step 2 of 3, as asked"
    assert "Traceback (most recent call last)" in row.traceback
    assert "samples.py" in row.traceback
    assert row.progress == 33  # the last progress it reported
    assert row.finished_at is not None


def test_a_job_fails_for_good_only_after_its_last_attempt(app):
    attempts_seen.clear()
    job_id = flaky_task.dispatch(fail_times=5)
    row = job(job_id)
    assert len(attempts_seen) == 3
    assert row.status == "failed"
    assert row.attempts == 3 and row.max_attempts == 3
    assert "call 3" in row.error


def test_a_retried_attempt_that_succeeds_completes(app):
    attempts_seen.clear()
    job_id = flaky_task.dispatch(fail_times=1)
    row = job(job_id)
    assert row.status == "completed"
    assert row.attempts == 2
    assert row.error == "ConnectionError: upstream down (call 1)"  # the history of the attempt


def test_dispatch_refuses_what_cannot_be_run_again():
    with pytest.raises(ValueError, match="reserved"):

        @tracked_task(name="test_bad_names")
        def bad(user_id):  # pragma: no cover - never registered
            pass

    with pytest.raises(ValueError, match="unknown queue"):
        tracked_task(queue="urgent")(lambda: None)


def test_arguments_must_be_json_and_match_the_signature(app):
    with pytest.raises(TypeError, match="JSON"):
        reporting_task.dispatch(object())
    with pytest.raises(TypeError, match="test_reporting_task"):
        reporting_task.dispatch()
    assert db.session.scalar(select(func.count()).select_from(JobLog)) == 0


def test_thousands_of_jobs_are_logged_in_one_transaction(app):
    commits = []

    def on_commit(conn):
        commits.append(1)

    event.listen(db.engine, "commit", on_commit)
    try:
        ids = noop.dispatch_many([Call() for _ in range(3000)], delay=3600)
    finally:
        event.remove(db.engine, "commit", on_commit)
    assert len(ids) == 3000
    assert ids == list(db.session.scalars(select(JobLog.id).order_by(JobLog.id)))
    # one commit for the caller's session, one for all 3,000 rows
    assert len(commits) <= 2
    assert db.session.scalar(select(func.count()).where(JobLog.status == "pending")) == 3000


def test_the_recorder_batches_and_coalesces_state_changes(app):
    job_id = sample_job.dispatch(delay=3600)
    other_id = sample_job.dispatch(delay=3600)
    job_service.cancel_job(other_id)
    statements = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.startswith("UPDATE"):  # rows per statement: PostgreSQL's come as arrays
            statements.append(len(params) if executemany else len(params[-1]))

    recorder = JobRecorder()
    recorder.start_batching(db.engine, interval=3600)
    try:
        for progress in (10, 20, 30):
            recorder.change(db.engine, job_id, {"status": "running", "progress": progress})
            recorder.change(db.engine, other_id, {"status": "running", "progress": progress})
        assert job(job_id).status == "pending"  # nothing written yet
        event.listen(db.engine, "before_cursor_execute", count)
        recorder.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
        recorder.stop_batching()
    assert statements == [2]  # six changes, two jobs, one statement
    assert (job(job_id).status, job(job_id).progress) == ("running", 30)
    assert job(other_id).status == "cancelled"  # a cancelled job is never revived


def test_a_writer_process_writes_the_batches(app):
    job_id = sample_job.dispatch(delay=3600)
    other_id = sample_job.dispatch(delay=3600)
    job_service.cancel_job(other_id)
    recorder = JobRecorder()
    recorder.start_batching(db.engine, interval=3600, writer_process=True)
    writer = recorder._writer
    try:
        assert writer is not None
        for progress in (10, 20):
            recorder.change(None, job_id, {"status": "running", "progress": progress})
            recorder.change(None, other_id, {"status": "running", "progress": progress})
        recorder.change(None, job_id, {"payload": {"seen": [1, 2]}, "started_at": utcnow()})
        assert job(job_id).status == "pending"  # nothing written yet
        recorder.flush()
        row = job(job_id)
        assert (row.status, row.progress, row.payload) == ("running", 20, {"seen": [1, 2]})
        assert job(other_id).status == "cancelled"  # the writer, too, never revives one
        recorder.change(None, job_id, {"status": "completed", "progress": 100})
    finally:
        recorder.stop_batching()  # writes what is left, then ends the writer
    assert writer._process.returncode == 0
    assert (job(job_id).status, job(job_id).progress) == ("completed", 100)


def test_a_batch_the_writer_cannot_write_is_kept_for_the_next_flush(app):
    job_id = sample_job.dispatch(delay=3600)
    recorder = JobRecorder()
    recorder.start_batching(db.engine, interval=3600, writer_process=True)
    try:
        recorder.change(None, job_id, {"status": "running", "no_such_column": 1})
        with pytest.raises(RuntimeError, match="not job-log columns"):
            recorder.flush()
        assert job(job_id).status == "pending"
        with pytest.raises(RuntimeError, match="not job-log columns"):
            recorder.flush()  # still there: nothing was dropped
    finally:
        recorder._changes.clear()  # the bad column would fail the last flush as well
        recorder.stop_batching()


def test_when_the_writer_dies_the_consumer_writes_for_itself(app):
    job_id = sample_job.dispatch(delay=3600)
    recorder = JobRecorder()
    recorder.start_batching(db.engine, interval=3600, writer_process=True)
    try:
        recorder._writer._process.kill()
        recorder._writer._process.wait()
        recorder.change(None, job_id, {"status": "running", "progress": 50})
        recorder.flush()
        assert recorder._writer is None
        assert (job(job_id).status, job(job_id).progress) == ("running", 50)
    finally:
        recorder.stop_batching()


def test_a_task_enqueued_without_dispatch_still_gets_a_row(app):
    huey.enqueue(reporting_task.huey_task.s(5))
    row = db.session.scalars(select(JobLog).where(JobLog.task == "test_reporting_task")).one()
    assert row.status == "completed" and row.source == {"type": "series", "id": 5}


failures_seen: list[tuple] = []


@tracked_task(
    retries=2,
    retry_delays=[0],
    timeout=0.2,
    name="test_slow_task",
    on_failure=lambda *args, error, **kwargs: failures_seen.append((args, kwargs, error)),
)
def slow_task(steps: int) -> None:
    import time

    for step in range(steps):
        time.sleep(0.1)
        current_job().report(progress=step)


@tracked_task(retries=3, retry_delays=[0], name="test_hopeless_task")
def hopeless_task() -> None:
    from jobkit import PermanentError

    raise PermanentError("the show is gone")


def test_a_job_past_its_timeout_is_stopped_at_a_report_and_fails(app):
    failures_seen.clear()
    job_id = slow_task.dispatch(steps=20)
    row = job(job_id)
    assert row.status == "failed" and row.attempts == 3
    assert row.error == "JobTimeout: the job ran longer than its 0.2 s timeout"
    assert row.progress < 19
    assert failures_seen == [((), {"steps": 20}, "the job ran longer than its 0.2 s timeout")]


def test_a_permanent_error_is_not_retried(app):
    job_id = hopeless_task.dispatch()
    row = job(job_id)
    assert row.status == "failed" and row.attempts == 1 and row.max_attempts == 4
    assert row.error == "PermanentError: the show is gone"


def test_the_integration_tick_checks_now_and_in_30_seconds(app):
    from tasks.integrations import integration_updates_tick

    integration_updates_tick.call_local()
    rows = db.session.scalars(select(JobLog).order_by(JobLog.id)).all()
    assert [r.task for r in rows] == ["check_integration_updates"] * 2
    assert rows[0].status == "completed" and rows[1].status == "pending"  # waits 30 s


def test_attempt_history_survives_batched_writes(app):
    from jobkit.recorder import recorder

    attempts_seen.clear()
    recorder.start_batching(db.engine, interval=3600)  # nothing is written until the flush
    try:
        job_id = flaky_task.dispatch(fail_times=5)
    finally:
        recorder.stop_batching()
    row = job(job_id)
    assert [a["attempt"] for a in row.attempt_errors] == [1, 2, 3]
    assert row.status == "failed" and row.message == "Failed after 3 attempt(s)."
