"""The tracked-job framework: Huey tasks whose every run is a job-log row.

It knows nothing of the app's areas: it imports only the job models and the extensions. The
app's own tasks live in ``tasks/`` and depend on this package, never the other way round.

- ``queue``: the one Huey instance and its storages (SQLite, Redis, memory), priorities.
- ``registry``: the tracked tasks this process knows, by name; ``tags``: labels on jobs.
- ``tracking``: ``tracked_task`` and the run wrapper around each task.
- ``dispatch``: ``Call`` and bulk dispatch: the pending rows, unique keys, enqueueing.
- ``gcpause``: the garbage collector paused while a bulk operation builds its batch.
- ``context``: what a running task sees of its job (``current_job()``), its errors, and the app
  context tasks run in (built from the factory the consumer hands over with ``bind_factory``).
- ``policy``: retry policies (how many attempts, which delays).
- ``recorder``: buffers job-log state changes and flushes them in batches.
- ``store``: the SQL that writes those batches, called by the recorder and the writer process.
- ``writer``: the writer process a consumer hands its batches to.
- ``pauses``: paused queues and tasks.
- ``locks``: named locks with an expiry, in the database.
"""

from jobkit.context import (
    JobCancelled,
    JobTimeout,
    PermanentError,
    bind_app,
    bind_factory,
    current_job,
)
from jobkit.dispatch import Call
from jobkit.policy import OUTSIDE_SERVICE, RetryPolicy
from jobkit.queue import QUEUE_PRIORITIES, configure_queue, huey
from jobkit.registry import registered_tasks, task_named
from jobkit.tracking import tracked_task

__all__ = [
    "OUTSIDE_SERVICE",
    "QUEUE_PRIORITIES",
    "Call",
    "JobCancelled",
    "JobTimeout",
    "PermanentError",
    "RetryPolicy",
    "bind_app",
    "bind_factory",
    "configure_queue",
    "current_job",
    "huey",
    "registered_tasks",
    "task_named",
    "tracked_task",
]
