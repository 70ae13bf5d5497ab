"""Dispatching tracked jobs: a pending job-log row per call, committed, and only then the Huey
tasks, enqueued in bulk; a task's unique key keeps one active job per key.

``TrackedTask.dispatch`` and ``dispatch_many`` call ``dispatch_many`` here with themselves as
``task`` (its ``name``, ``queue``, ``policy``, ``tags``, ``signature``, ``secret_args``,
``payload_for``, ``key_for`` and ``huey_call``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from jobkit.gcpause import collection_paused
from jobkit.queue import QUEUE_PRIORITIES, enqueue_many
from jobkit.recorder import pending_row, recorder
from jobkit.redaction import REDACTED
from jobkit.tags import clean_tags
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import ACTIVE_STATUSES, JobLog

# Unique keys looked up per query (SQLite allows 32,766 parameters to a statement).
KEYS_PER_QUERY = 5000
# From this many calls on, a dispatch pauses the garbage collector (see jobkit.gcpause).
BULK = 1000


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


def dispatch_many(
    task: Any,
    calls: Iterable[Call],
    user_id: int | None = None,
    batch_id: int | None = None,
    queue: str | None = None,
    delay: float | None = None,
    tags: Iterable[str] = (),
) -> list[int]:
    """Log and enqueue many runs of the tracked ``task``: one transaction for the rows, one
    round trip to the queue.

    Returns one job id per call, in order; calls whose unique key already has an active job
    get that job's id and enqueue nothing.
    """
    queue = queue or task.queue
    if queue not in QUEUE_PRIORITIES:
        raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(QUEUE_PRIORITIES)}")
    calls = list(calls)
    if len(calls) < BULK:
        return _dispatch(task, calls, user_id, batch_id, queue, delay, tags)
    with collection_paused():
        return _dispatch(task, calls, user_id, batch_id, queue, delay, tags)


def _dispatch(
    task: Any,
    calls: list[Call],
    user_id: int | None,
    batch_id: int | None,
    queue: str,
    delay: float | None,
    tags: Iterable[str],
) -> list[int]:
    max_attempts = task.policy.max_attempts()
    rows = [job_row(task, call, queue, max_attempts, user_id, batch_id) for call in calls]
    # A delayed job is due at ``next_attempt_at``: it says when it starts (the waiting reason),
    # it holds no one up before then, and its wait is counted from then.
    due = utcnow() + timedelta(seconds=delay) if delay else None
    if due is not None:
        for row in rows:
            row["next_attempt_at"] = due
    # The caller's own changes must be committed before workers can look for them.
    db.session.commit()
    existing = active_jobs_by_key(task.name, [row["unique_key"] for row in rows])
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
    shared = tuple(dict.fromkeys(task.tags + clean_tags(tags)))
    new_tags = [
        tuple(dict.fromkeys(shared + clean_tags(c.tags))) if c.tags else shared for c in new_calls
    ]
    new_ids, inserted = _insert(task.name, new_rows, new_tags if any(new_tags) else None)
    eta = due.replace(tzinfo=None) if due is not None else None
    huey_tasks = [
        task.huey_call(job_id, call, max_attempts - 1, queue, eta)
        for job_id, call, ours in zip(new_ids, new_calls, inserted, strict=True)
        if ours
    ]
    # A task with an ``eta`` is queued like any other; the worker that takes it early puts it
    # on Huey's schedule, as ``huey.enqueue`` would have had it.
    enqueue_many(huey_tasks)
    return [value if kind == "job" else new_ids[value] for kind, value in slots]


def job_row(task: Any, call: Call, queue: str, max_attempts: int, user_id, batch_id) -> dict:
    """The pending job-log row for one call of ``task``."""
    payload = task.payload_for(call.args, call.kwargs)
    if task.secret_args:
        arguments = _without_secrets(task, call)
    else:
        arguments = {"args": list(call.args), "kwargs": call.kwargs}
    source_type, source_id = call.source or (None, None)
    return pending_row(
        task.name,
        queue,
        arguments,
        payload,
        max_attempts,
        user_id=user_id,
        batch_id=batch_id,
        retry_of=call.retry_of,
        source_type=source_type,
        source_id=source_id,
        unique_key=task.key_for(call),
    )


def _without_secrets(task: Any, call: Call) -> dict[str, Any]:
    """The call's arguments as a job log keeps them: ``secret_args`` never stored."""
    names = list(task.signature.parameters)
    args = [
        REDACTED if i < len(names) and names[i] in task.secret_args else value
        for i, value in enumerate(call.args)
    ]
    kwargs = {k: REDACTED if k in task.secret_args else v for k, v in call.kwargs.items()}
    return {"args": args, "kwargs": kwargs}


def active_jobs_by_key(task_name: str, keys: list[str | None]) -> dict[str, int]:
    """Unique key -> id of the pending or running job of ``task_name`` that holds it."""
    wanted = {key for key in keys if key is not None}
    if not wanted:
        return {}
    found: dict[str, int] = {}
    chunk = sorted(wanted)
    for start in range(0, len(chunk), KEYS_PER_QUERY):
        rows = db.session.execute(
            select(JobLog.unique_key, JobLog.id).where(
                JobLog.task == task_name,
                JobLog.unique_key.in_(chunk[start : start + KEYS_PER_QUERY]),
                JobLog.status.in_(ACTIVE_STATUSES),
            )
        )
        found.update(dict(rows.all()))
    db.session.commit()
    return found


def _insert(
    task_name: str, rows: list[dict[str, Any]], tags: list[tuple[str, ...]] | None
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
            key = row["unique_key"]
            ids.append(active_jobs_by_key(task_name, [key])[key])
            inserted.append(False)
    return ids, inserted
