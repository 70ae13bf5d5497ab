"""Tracked tasks: Huey tasks whose every run is a job-log row.

    @tracked_task(queue="low")
    def refresh_series(series_id: int) -> None:
        job = current_job()
        job.link("series", series_id)
        job.report(progress=50, message="Fetched the show")

    job_id = refresh_series.dispatch(42, user_id=7)

``dispatch`` writes the pending row, commits it and only then enqueues the Huey task, whose id is
the job-log id. The worker marks the row running, lets the task report progress, and marks it
completed, failed (with the traceback), pending again until a retry, or cancelled.
"""

from __future__ import annotations

import inspect
import os
import socket
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from huey.exceptions import RetryTask

from jobkit import registry
from jobkit.context import (
    JobCancelled,
    JobContext,
    PermanentError,
    _current,
    task_context,
)
from jobkit.dispatch import Call, dispatch_many, job_row
from jobkit.pauses import is_paused
from jobkit.policy import RetryPolicy
from jobkit.queue import QUEUE_PRIORITIES, huey
from jobkit.recorder import recorder
from jobkit.redaction import REDACTED
from jobkit.tags import clean_tags
from webapp.extensions import database_error_message, db
from webapp.models.base import isoformat, utcnow
from webapp.models.jobs import JobStatus

# Names that ``dispatch`` takes for itself; a tracked task cannot use them as parameters.
DISPATCH_OPTIONS = ("user_id", "source", "batch_id", "queue", "delay", "retry_of", "tags")
PAUSE_RECHECK_SECONDS = 5
QUEUE_BY_PRIORITY = {priority: queue for queue, priority in QUEUE_PRIORITIES.items()}
# Runs of a job that Huey's retry count does not know of (runs lost with their worker), passed
# with a re-queued task so that its attempt number counts them.
EARLIER_RUNS = "_jobdeck_earlier_runs"
CONSUMER_ID = f"{socket.gethostname()}:{os.getpid()}"

_thread_names = threading.local()


def _worker_name() -> str:
    """This consumer and thread, as job logs show it; worked out once per thread."""
    name = getattr(_thread_names, "name", None)
    if name is None:
        name = _thread_names.name = f"{CONSUMER_ID}:{threading.current_thread().name}"
    return name


class TrackedTask:
    """A Huey task that keeps a job log; made by ``@tracked_task``."""

    def __init__(
        self,
        func: Callable[..., Any],
        queue: str,
        policy: RetryPolicy,
        name: str | None = None,
        timeout: float | None = None,
        on_failure: Callable[..., None] | None = None,
        unique_key: Callable[..., Any] | None = None,
        rerun_if_lost: bool = False,
        tags: Iterable[str] = (),
        secret_args: Sequence[str] = (),
    ) -> None:
        if queue not in QUEUE_PRIORITIES:
            raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(QUEUE_PRIORITIES)}")
        self.func = func
        self.name = name or func.__name__
        self.queue = queue
        self.policy = policy
        self.timeout = timeout
        self.on_failure = on_failure
        self.unique_key = unique_key
        self.rerun_if_lost = rerun_if_lost
        self.tags = clean_tags(tags)
        self.signature = inspect.signature(func)
        self.secret_args = frozenset(secret_args)
        # Every parameter a plain one (no *args, **kwargs, keyword-only) and none secret: a
        # call giving each of them by position binds to them in order.
        self._plain_names: tuple[str, ...] | None = None
        kinds = [p.kind for p in self.signature.parameters.values()]
        if not self.secret_args and all(
            k is inspect.Parameter.POSITIONAL_OR_KEYWORD for k in kinds
        ):
            self._plain_names = tuple(self.signature.parameters)
        clash = set(self.signature.parameters) & set(DISPATCH_OPTIONS)
        if clash:
            raise ValueError(f"{self.name}: parameter names reserved by dispatch: {clash}")

        def run(*args: Any, task: Any, **kwargs: Any) -> Any:
            earlier_runs = kwargs.pop(EARLIER_RUNS, 0)
            return self._execute(task, args, kwargs, earlier_runs)

        run.__module__ = func.__module__
        run.__name__ = self.name
        self.huey_task = huey.task(context=True, name=self.name)(run)
        registry.register(self.name, self)

    def __repr__(self) -> str:
        return f"<TrackedTask {self.name} queue={self.queue}>"

    def payload_for(self, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name: the job's first payload."""
        names = self._plain_names
        if names is not None and not kwargs and len(args) == len(names):
            return dict(zip(names, args, strict=True))  # what binding gives, for much less
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}: {exc}") from None
        return {
            name: REDACTED if name in self.secret_args else value
            for name, value in bound.arguments.items()
        }

    def key_for(self, call: Call) -> str | None:
        return None if self.unique_key is None else str(self.unique_key(*call.args, **call.kwargs))

    def huey_call(
        self,
        job_id: int,
        call: Call,
        retries: int,
        queue: str,
        eta: datetime | None = None,
        earlier_runs: int = 0,
    ) -> Any:
        """The Huey task for one job (its Huey id is the job-log id); ``earlier_runs``: runs
        lost with their worker, which its attempt number counts."""
        extra = {EARLIER_RUNS: earlier_runs} if earlier_runs else {}
        return self.huey_task.s(
            *call.args,
            id=str(job_id),
            retries=retries,
            priority=QUEUE_PRIORITIES[queue],
            eta=eta,
            **call.kwargs,
            **extra,
        )

    # -- dispatching ----------------------------------------------------------------------------

    def dispatch(
        self,
        *args: Any,
        user_id: int | None = None,
        source: tuple[str, int] | None = None,
        batch_id: int | None = None,
        queue: str | None = None,
        delay: float | None = None,
        retry_of: int | None = None,
        tags: Iterable[str] = (),
        **kwargs: Any,
    ) -> int:
        """Log and enqueue one run; returns the job-log id (the existing job's id when the task
        has a unique key and a job for that key is already pending or running)."""
        [job_id] = self.dispatch_many(
            [Call(args, kwargs, source, retry_of, clean_tags(tags))],
            user_id=user_id,
            batch_id=batch_id,
            queue=queue,
            delay=delay,
        )
        return job_id

    def dispatch_many(
        self,
        calls: Iterable[Call],
        user_id: int | None = None,
        batch_id: int | None = None,
        queue: str | None = None,
        delay: float | None = None,
        tags: Iterable[str] = (),
    ) -> list[int]:
        """Log and enqueue many runs: one transaction for the rows, one round trip to the queue.

        Returns one job id per call, in order; calls whose unique key already has an active job
        get that job's id and enqueue nothing.
        """
        return dispatch_many(self, calls, user_id, batch_id, queue, delay, tags)

    # -- running --------------------------------------------------------------------------------

    def _execute(
        self, huey_task: Any, args: tuple, kwargs: dict[str, Any], earlier_runs: int = 0
    ) -> Any:
        with task_context():
            # a consumer's recorder buffers the changes and has its engine; only a write-through
            # (immediate mode, a test) needs this one
            engine = recorder.engine
            job_id = self._job_id_for(huey_task, args, kwargs)
            queue = QUEUE_BY_PRIORITY.get(huey_task.priority, self.queue)
            reason = is_paused(queue, self.name, engine)
            if engine is None:
                engine = db.engine
            if reason:
                recorder.change(engine, job_id, {"message": f"Waiting: {reason}."})
                raise RetryTask(delay=PAUSE_RECHECK_SECONDS)
            # a lost run took no retry from Huey's count, but it was an attempt all the same
            max_attempts = self.policy.max_attempts() + earlier_runs
            attempt = max(1 + earlier_runs, max_attempts - huey_task.retries)
            job = JobContext(job_id, self, args, kwargs)
            recorder.started(engine, job_id, attempt, _worker_name(), CONSUMER_ID)
            token = _current.set(job)
            try:
                result = self.func(*args, **kwargs)
            except JobCancelled:
                db.session.rollback()
                recorder.change(
                    engine,
                    job_id,
                    {
                        "status": JobStatus.CANCELLED.value,
                        "message": "Cancelled while running.",
                        "finished_at": utcnow(),
                    },
                )
                return None
            except Exception as exc:  # any failure of the task: recorded, then re-raised
                db.session.rollback()
                if isinstance(exc, PermanentError):
                    huey_task.retries = 0
                self._record_failure(huey_task, job_id, attempt, max_attempts, exc)
                if not huey_task.retries and self.on_failure is not None:
                    self.on_failure(*args, error=str(exc) or type(exc).__name__, **kwargs)
                raise
            finally:
                _current.reset(token)
            recorder.completed(engine, job_id, result if isinstance(result, str) else None)
            return None

    def _job_id_for(self, huey_task: Any, args: tuple, kwargs: dict[str, Any]) -> int:
        """The job-log id; a task that reached Huey without ``dispatch`` gets its row now."""
        if str(huey_task.id).isdigit():
            return int(huey_task.id)
        [job_id] = recorder.insert_jobs(
            db.engine,
            [job_row(self, Call(args, kwargs), self.queue, self.policy.max_attempts(), None, None)],
        )
        huey_task.id = str(job_id)  # so that a retry finds the same row
        return job_id

    def _record_failure(
        self, huey_task: Any, job_id: int, attempt: int, max_attempts: int, exc: Exception
    ) -> None:
        # a database error's text carries its SQL and parameters: people see what it means
        meaning = database_error_message(exc)
        error = f"{type(exc).__name__}: {meaning or exc}"
        trace = traceback.format_exc()
        if meaning:
            trace = trace.replace(str(exc), meaning)
        now = utcnow()
        history = recorder.attempt_errors(db.engine, job_id)
        history.append({"attempt": attempt, "error": error, "at": isoformat(now)})
        values: dict[str, Any] = {
            "error": error,
            "traceback": trace,
            "attempt_errors": history,
        }
        if huey_task.retries > 0:
            # the n-th retry waits the n-th delay; runs lost with a worker were no retries
            wait = self.policy.delay_before_retry(self.policy.max_attempts() - huey_task.retries)
            huey_task.retry_delay = wait
            values |= {
                "status": JobStatus.PENDING.value,
                "message": f"Attempt {attempt} of {max_attempts} failed; retrying in {wait:g} s.",
                "finished_at": None,
                "next_attempt_at": now + timedelta(seconds=wait),
            }
        else:
            values |= {
                "status": JobStatus.FAILED.value,
                "finished_at": now,
                "next_attempt_at": None,
                "message": f"Failed after {attempt} attempt(s).",
            }
        recorder.change(db.engine, job_id, values)


def tracked_task(
    queue: str = "default",
    retries: int = 0,
    retry_delays: Sequence[float] | str = (),
    backoff: float | None = None,
    name: str | None = None,
    timeout: float | None = None,
    on_failure: Callable[..., None] | None = None,
    unique_key: Callable[..., Any] | None = None,
    rerun_if_lost: bool = False,
    tags: Iterable[str] = (),
    secret_args: Sequence[str] = (),
) -> Callable[[Callable[..., Any]], TrackedTask]:
    """Make a function a tracked Huey task on ``queue`` (high, default or low).

    Retries: ``retries`` times after ``retry_delays`` seconds (the last repeats), or after an
    exponential ``backoff`` with jitter; ``retry_delays=OUTSIDE_SERVICE`` follows RETRY_DELAYS.
    ``timeout`` seconds are enforced at the task's progress reports (thread workers cannot stop a
    thread from outside). ``on_failure(*args, error=..., **kwargs)`` runs once the job has failed
    for good. ``unique_key(*args, **kwargs)`` allows one pending or running job per key.
    ``rerun_if_lost``: a job whose consumer died is queued again instead of failed.
    ``tags`` label every job of the task (``dispatch(..., tags=[...])`` adds more).
    ``secret_args``: parameters whose values the job log never keeps (shown ``[redacted]``; a
    retry from the log cannot repeat them, so such a task is best given a record's id).
    """
    policy = RetryPolicy(retries, retry_delays, backoff)

    def decorator(func: Callable[..., Any]) -> TrackedTask:
        return TrackedTask(
            func,
            queue,
            policy,
            name,
            timeout,
            on_failure,
            unique_key,
            rerun_if_lost,
            tags,
            secret_args=secret_args,
        )

    return decorator
