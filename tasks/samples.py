"""Sample jobs: to see that workers are alive and how a job reports, and for the benchmark."""

import time

from jobkit.context import current_job
from jobkit.queue import huey
from jobkit.tracking import tracked_task


class SampleJobFailure(RuntimeError):
    """The failure a sample job was asked to show."""


@tracked_task(queue="default", rerun_if_lost=True)
def sample_job(steps: int = 10, step_seconds: float = 0.5, fail_at_step: int | None = None) -> str:
    """Count through ``steps`` steps, reporting progress; fail at ``fail_at_step`` if given."""
    job = current_job()
    for step in range(1, steps + 1):
        time.sleep(step_seconds)
        if fail_at_step is not None and step == fail_at_step:
            raise SampleJobFailure(f"failed at step {step} of {steps}, as asked")
        job.report(progress=step * 100 / steps, message=f"Step {step} of {steps}", step=step)
    return f"Counted {steps} steps."


@tracked_task(queue="default")
def noop() -> None:
    """Do nothing: measures what tracking costs."""


@huey.task(name="bare_noop")
def bare_noop() -> None:
    """An untracked Huey task: the benchmark's baseline for what tracking costs."""
