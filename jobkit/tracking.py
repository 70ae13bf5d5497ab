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
import json
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from huey.exceptions import RetryTask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from jobkit import registry
from jobkit.context import (
    JobCancelled,
    JobContext,
    PermanentError,
    _current,
    task_context,
)
from jobkit.pauses import is_paused
from jobkit.policy import RetryPolicy
from jobkit.queue import QUEUE_PRIORITIES, enqueue_many, huey
from jobkit.recorder import pending_row, recorder
from jobkit.redaction import REDACTED
from jobkit.tags import clean_tags
from webapp.extensions import database_error_message, db
from webapp.models.base import isoformat, utcnow
from webapp.models.jobs import ACTIVE_STATUSES, JobLog, JobStatus

# Names that ``dispatch`` takes for itself; a tracked task cannot use them as parameters.
DISPATCH_OPTIONS = ("user_id", "source", "batch_id", "queue", "delay", "retry_of", "tags")
PAUSE_RECHECK_SECONDS = 5
QUEUE_BY_PRIORITY = {priority: queue for queue, priority in QUEUE_PRIORITIES.items()}
# Runs of a job that Huey's retry count does not know of (runs lost with their worker), passed
# with a re-queued task so that its attempt number counts them.
EARLIER_RUNS = "_jobdeck_earlier_runs"
CONSUMER_ID = f"{socket.gethostname()}:{os.getpid()}"

# Read on every run: plain strings cost less than the enum's .value.
RUNNING, COMPLETED = JobStatus.RUNNING.value, JobStatus.COMPLETED.value

_thread_names = threading.local()


def _worker_name() -> str:
    """This consumer and thread, as job logs show it; worked out once per thread."""
    name = getattr(_thread_names, "name", None)
    if name is None:
        name = _thread_names.name = f"{CONSUMER_ID}:{threading.current_thread().name}"
    return name


@dataclass(frozen=True)
class Call:
    """One set of arguments for a bulk dispatch, with what the job works for.

    One thing, three words, on purpose: ``source`` (``("series", 6)``) is the contract's name
    for the record a job works for (``JobLog.source_type``/``source_id``, the API's fields,
    ``dispatch(source=…)``); ``current_job().link(type, id)`` is the verb that sets it from
    inside a running task; the pages call it the job's "record"."""

    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: tuple[str, int] | None = None
    retry_of: int | None = None
    tags: tuple[str, ...] = ()


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
        queue = queue or self.queue
        if queue not in QUEUE_PRIORITIES:
            raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(QUEUE_PRIORITIES)}")
        calls = list(calls)
        max_attempts = self.policy.max_attempts()
        rows = [self._row(call, queue, max_attempts, user_id, batch_id) for call in calls]
        # The caller's own changes must be committed before workers can look for them.
        db.session.commit()
        existing = self._active_jobs_by_key([row["unique_key"] for row in rows])
        # Each call gets an existing job ("job", id) or a new row ("new", index); calls that
        # repeat a unique key share the first one's row.
        slots: list[tuple[str, int]] = []
        new_rows: list[dict[str, Any]] = []
        new_calls: list[Call] = []
        new_for_key: dict[str, int] = {}
        for row, call in zip(rows, calls, strict=True):
            key = row["unique_key"]
            if key is not None and key in existing:
                slots.append(("job", existing[key]))
            elif key is not None and key in new_for_key:
                slots.append(("new", new_for_key[key]))
            else:
                if key is not None:
                    new_for_key[key] = len(new_rows)
                slots.append(("new", len(new_rows)))
                new_rows.append(row)
                new_calls.append(call)
        shared = self.tags + clean_tags(tags)
        new_tags = [tuple(dict.fromkeys(shared + clean_tags(c.tags))) for c in new_calls]
        new_ids, inserted = self._insert(new_rows, new_tags if any(new_tags) else None)
        eta = utcnow().replace(tzinfo=None) + timedelta(seconds=delay) if delay else None
        huey_tasks = [
            self.huey_call(job_id, call, max_attempts - 1, queue, eta)
            for job_id, call, ours in zip(new_ids, new_calls, inserted, strict=True)
            if ours
        ]
        if eta is None:
            enqueue_many(huey_tasks)
        else:
            for task in huey_tasks:
                huey.enqueue(task)
        return [value if kind == "job" else new_ids[value] for kind, value in slots]

    def _row(self, call: Call, queue: str, max_attempts: int, user_id, batch_id) -> dict:
        payload = self.payload_for(call.args, call.kwargs)
        arguments = {"args": list(call.args), "kwargs": call.kwargs}
        if self.secret_args:
            arguments = self._without_secrets(call)
        try:
            json.dumps(arguments)
        except TypeError as exc:
            raise TypeError(f"{self.name}: arguments must be JSON values ({exc})") from None
        source_type, source_id = call.source or (None, None)
        return pending_row(
            self.name,
            queue,
            arguments,
            payload,
            max_attempts,
            user_id=user_id,
            batch_id=batch_id,
            retry_of=call.retry_of,
            source_type=source_type,
            source_id=source_id,
            unique_key=self.key_for(call),
        )

    def _without_secrets(self, call: Call) -> dict[str, Any]:
        """The call's arguments as a job log keeps them: ``secret_args`` never stored."""
        names = list(self.signature.parameters)
        args = [
            REDACTED if i < len(names) and names[i] in self.secret_args else value
            for i, value in enumerate(call.args)
        ]
        kwargs = {k: REDACTED if k in self.secret_args else v for k, v in call.kwargs.items()}
        return {"args": args, "kwargs": kwargs}

    def _active_jobs_by_key(self, keys: list[str | None]) -> dict[str, int]:
        wanted = {key for key in keys if key is not None}
        if not wanted:
            return {}
        found: dict[str, int] = {}
        chunk = sorted(wanted)
        for start in range(0, len(chunk), 500):
            rows = db.session.execute(
                select(JobLog.unique_key, JobLog.id).where(
                    JobLog.task == self.name,
                    JobLog.unique_key.in_(chunk[start : start + 500]),
                    JobLog.status.in_(ACTIVE_STATUSES),
                )
            )
            found.update(dict(rows.all()))
        db.session.commit()
        return found

    def _insert(
        self, rows: list[dict[str, Any]], tags: list[tuple[str, ...]] | None
    ) -> tuple[list[int], list[bool]]:
        """Insert the rows (and their tags); returns their ids and whether each is ours. When
        another dispatcher took a unique key meanwhile, that row's id is the other's job."""
        try:
            return recorder.insert_jobs(db.engine, rows, tags), [True] * len(rows)
        except IntegrityError:
            if not any(row["unique_key"] for row in rows):
                raise
        ids, inserted = [], []
        for index, row in enumerate(rows):
            try:
                ids += recorder.insert_jobs(db.engine, [row], [tags[index]] if tags else None)
                inserted.append(True)
            except IntegrityError:
                ids.append(self._active_jobs_by_key([row["unique_key"]])[row["unique_key"]])
                inserted.append(False)
        return ids, inserted

    # -- running --------------------------------------------------------------------------------

    def _execute(
        self, huey_task: Any, args: tuple, kwargs: dict[str, Any], earlier_runs: int = 0
    ) -> Any:
        with task_context():
            # a consumer's recorder buffers the changes and has its engine; only a write-through
            # (immediate mode, a test) needs this one
            engine = None if recorder.batching else db.engine
            job_id = self._job_id_for(huey_task, args, kwargs)
            queue = QUEUE_BY_PRIORITY.get(huey_task.priority, self.queue)
            reason = is_paused(queue, self.name)
            if reason:
                recorder.change(engine, job_id, {"message": f"Waiting: {reason}."})
                raise RetryTask(delay=PAUSE_RECHECK_SECONDS)
            # a lost run took no retry from Huey's count, but it was an attempt all the same
            max_attempts = self.policy.max_attempts() + earlier_runs
            attempt = max(1 + earlier_runs, max_attempts - huey_task.retries)
            job = JobContext(
                job_id,
                timeout=self.timeout,
                initial_payload=lambda: self.payload_for(args, kwargs),
            )
            if self.timeout:
                job.deadline = time.monotonic() + self.timeout
            starting = {
                "status": RUNNING,
                "attempts": attempt,
                "started_at": utcnow(),
                "worker": _worker_name(),
                "consumer_id": CONSUMER_ID,
            }
            if attempt > 1:  # only a retry has a previous attempt's times to clear
                starting |= {"finished_at": None, "next_attempt_at": None}
            recorder.change(engine, job_id, starting)
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
            values = {"status": COMPLETED, "progress": 100, "finished_at": utcnow()}
            if isinstance(result, str):
                values["message"] = result
            recorder.change(engine, job_id, values)
            return None

    def _job_id_for(self, huey_task: Any, args: tuple, kwargs: dict[str, Any]) -> int:
        """The job-log id; a task that reached Huey without ``dispatch`` gets its row now."""
        if str(huey_task.id).isdigit():
            return int(huey_task.id)
        [job_id] = recorder.insert_jobs(
            db.engine,
            [self._row(Call(args, kwargs), self.queue, self.policy.max_attempts(), None, None)],
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
