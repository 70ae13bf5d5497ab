"""A schedule runs a real command end to end through a consumer."""

from datetime import timedelta

from sqlalchemy import select

from tasks.schedules import tick
from tests.e2e.conftest import wait_for
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.schedules import ScheduleRun
from webapp.services import schedules as service
from webapp.services import timing


def test_a_due_schedule_runs_its_command_in_the_consumer(e2e):
    # Hourly at half an hour from now: its last due time (half an hour ago) is the one run due,
    # and the next is far past the tick's horizon whatever the clock says.
    cron = f"{(utcnow().minute + 30) % 60} * * * *"
    schedule = service.create_schedule(
        {
            "name": "prune",
            "command": "jobs prune",
            "parameters": {"--days": "7"},
            "cron": cron,
        }
    )
    schedule.next_run_at = timing.next_runs(cron, "UTC", utcnow() - timedelta(hours=1))[0]
    db.session.commit()
    assert tick() == 1
    e2e["start"]()
    run = wait_for(
        lambda: (r := db.session.scalars(select(ScheduleRun)).first()) and r.finished_at and r,
        timeout=60,
        what="the run to finish",
    )
    assert run.status == "succeeded" and run.exit_code == 0
    assert run.output.strip() == "Deleted 0 finished job logs older than 7 days."
    job = wait_for(
        lambda: (j := db.session.get(JobLog, run.job_log_id)).status == "completed" and j,
        what="the job to complete",
    )
    assert job.task == "run_schedule"
    assert job.source == {"type": "schedule", "id": schedule.id}
