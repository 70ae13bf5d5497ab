"""A consumer whose one worker is busy with a long job still ticks and still runs "Run now"."""

from datetime import timedelta

from jobkit.queue import huey
from tasks.samples import sample_job
from tasks.schedules import scheduler_tick
from tests.e2e.conftest import wait_for
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services import schedules as service
from webapp.services.users import create_user, issue_token


def test_with_its_one_worker_busy_a_consumer_still_ticks_and_runs_now(e2e):
    client = e2e["app"].test_client()
    token = issue_token(create_user("op@example.com", "pw-pw-pw-pw", "operator"))
    headers = {"Authorization": f"Bearer {token}"}
    e2e["start"](workers=1)
    # Huey enqueues the periodic tasks when a consumer starts: let that round pass first
    wait_for(
        lambda: db.session.query(JobLog).filter_by(task="check_integration_updates").count(),
        timeout=30,
        what="the periodic tasks of the consumer's start",
    )
    long_job = sample_job.dispatch(steps=80, step_seconds=0.25)  # 20 s on the only worker
    wait_for(lambda: db.session.get(JobLog, long_job).status == "running", what="the long job")
    # the worker took it, so no task of a higher priority is left waiting: the tick below
    # is the only one
    schedule = service.create_schedule(
        {
            "name": "often",
            "command": "jobs prune",
            "parameters": {"--days": "7"},
            "cron": "* * * * *",
        }
    )
    schedule.next_run_at = utcnow() - timedelta(seconds=5)  # due now
    db.session.commit()

    huey.enqueue(scheduler_tick.s())  # what Huey's scheduler enqueues at every minute
    wait_for(
        lambda: db.session.get(Schedule, schedule.id).next_run_at > utcnow(),
        timeout=10,
        what="the tick to plan the due run and the next one",
    )
    assert db.session.query(ScheduleRun).filter_by(schedule_id=schedule.id).count() >= 1

    response = client.post(f"/api/schedules/{schedule.id}/run", headers=headers)
    assert response.status_code == 202
    run_id = response.get_json()["id"]
    run_job = wait_for(
        lambda: db.session.get(ScheduleRun, run_id).job_log_id,
        timeout=10,
        what="the manual run to start",
    )
    assert db.session.get(JobLog, long_job).status == "running"  # it started beside the long job
    assert db.session.get(JobLog, run_job).queue == "high"
    run = wait_for(
        lambda: (r := db.session.get(ScheduleRun, run_id)).finished_at and r,
        timeout=60,
        what="the manual run to finish",
    )
    assert run.status == "succeeded", run.output
