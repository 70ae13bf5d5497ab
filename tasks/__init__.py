"""Jobdeck's background work: the Huey instance, tracked tasks, and the task modules."""

from tasks.context import (
    JobCancelled,
    JobTimeout,
    PermanentError,
    bind_app,
    current_job,
)
from tasks.policy import OUTSIDE_SERVICE, RetryPolicy
from tasks.queue import QUEUE_PRIORITIES, configure_queue, huey
from tasks.tracking import Call, task_named, tracked_task

# Importing the task modules registers their tasks with Huey.
from tasks import integrations, maintenance, samples, schedules, series, transfers, upkeep  # noqa: E402, F401  isort: skip

__all__ = [
    "OUTSIDE_SERVICE",
    "QUEUE_PRIORITIES",
    "RetryPolicy",
    "Call",
    "JobCancelled",
    "JobTimeout",
    "PermanentError",
    "bind_app",
    "configure_queue",
    "current_job",
    "huey",
    "task_named",
    "tracked_task",
]
