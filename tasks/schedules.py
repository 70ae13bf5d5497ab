"""The scheduler: a Huey periodic task that dispatches due schedule runs as tracked jobs."""

from huey import crontab

from jobkit.context import app_context, current_job
from jobkit.dispatch import Call
from jobkit.gcpause import collection_paused
from jobkit.reserved import periodic_task
from jobkit.tracking import tracked_task
from webapp.models.schedules import ScheduleRun
from webapp.services import schedule_runs


@tracked_task(queue="default", tags=("schedule",))
def run_schedule(run_id: int) -> str:
    """Run one schedule run's command; a non-zero exit fails the job."""
    job = current_job()
    run = schedule_runs.execute_run(run_id, job.id)
    if run.status == "skipped":
        return run.note
    last_line = (run.output or "").strip().splitlines()[-1:] or [""]
    if run.status == "failed":
        raise schedule_runs.ScheduledCommandFailed(
            f"{run.schedule.command} exited with {run.exit_code}: {last_line[0]}"
        )
    return f"{run.schedule.command} succeeded: {last_line[0]}"


def dispatch_run(run: ScheduleRun, user_id: int | None = None) -> int:
    """Dispatch a manual run ("Run now") on the high queue: it starts at once, on the
    reserved worker when the others are busy (see jobkit.reserved)."""
    return run_schedule.dispatch(
        run.id, queue="high", user_id=user_id, source=("schedule", run.schedule_id)
    )


def tick() -> int:
    """Plan the runs due before the next tick and dispatch them in bulk; returns how many."""
    groups: dict[tuple[str, float], list[Call]] = {}
    with collection_paused():
        planned = schedule_runs.plan_due_runs()
        for run in planned:
            calls = groups.setdefault((run.queue, round(run.delay, 1)), [])
            calls.append(Call((run.run_id,), source=("schedule", run.schedule_id)))
        for (queue, delay), calls in groups.items():
            run_schedule.dispatch_many(calls, queue=queue, delay=delay or None)
    return len(planned)


@periodic_task(crontab(minute="*"))
def scheduler_tick() -> None:
    """Every consumer ticks; the unique (schedule, due time) makes each run happen once."""
    with app_context():
        tick()
