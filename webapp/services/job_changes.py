"""Retry with changes: run a failed or cancelled job again with some of its arguments changed,
checked against the task's signature before anything is queued, and show what changed."""

from __future__ import annotations

import inspect
import json
from typing import Any

from jobkit import task_named
from webapp.exceptions import Invalid
from webapp.extensions import db
from webapp.models.jobs import JobLog, JobStatus
from webapp.services.jobs import JobError, get_job

# Plain annotations a changed value is checked against; others are taken as given.
_PLAIN = {t.__name__: t for t in (int, float, str, bool, list, dict)}


def _plain_type(parameter: inspect.Parameter | None) -> type | None:
    """The parameter's annotation when it is a plain JSON type (also written as a string)."""
    if parameter is None:
        return None
    annotation = parameter.annotation
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None)
    return _PLAIN.get(name)


def _fits(value: Any, expected: type) -> bool:
    if expected is bool or isinstance(value, bool):
        return isinstance(value, bool) and expected is bool
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def arguments_by_name(job: JobLog) -> dict[str, Any]:
    """The job's arguments by parameter name (what the retry form shows)."""
    task = task_named(job.task)
    arguments = job.arguments or {}
    args, kwargs = arguments.get("args", []), arguments.get("kwargs", {})
    if task is None:
        return {**{f"arg{i}": v for i, v in enumerate(args)}, **kwargs}
    try:
        bound = task.signature.bind(*args, **kwargs)
    except TypeError:
        return {**{f"arg{i}": v for i, v in enumerate(args)}, **kwargs}
    return dict(bound.arguments)


def _checked(job: JobLog, changes: Any) -> dict[str, Any]:
    task = task_named(job.task)
    if task is None:
        raise JobError(f"task {job.task!r} no longer exists, so job {job.id} cannot run")
    if not isinstance(changes, dict):
        raise Invalid("kwargs must be an object of argument names and values", field="kwargs")
    merged = {**arguments_by_name(job), **changes}
    try:
        json.dumps(merged)
    except (TypeError, ValueError):
        raise Invalid("kwargs must hold JSON values", field="kwargs") from None
    parameters = task.signature.parameters
    for name, value in changes.items():
        parameter = parameters.get(name)
        if parameter is None and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
        ):
            known = ", ".join(parameters) or "none"
            raise Invalid(
                f"{job.task} takes no argument {name!r} (it takes: {known})", field="kwargs"
            )
        expected = _plain_type(parameter)
        if expected is not None and value is not None and not _fits(value, expected):
            raise Invalid(
                f"{name} must be {expected.__name__}, not {json.dumps(value)}", field="kwargs"
            )
    try:
        task.signature.bind(**merged)
    except TypeError as exc:
        raise Invalid(f"{job.task}: {exc}", field="kwargs") from None
    return merged


def retry_with_changes(job_id: int, changes: dict[str, Any], user_id: int | None = None) -> int:
    """Run a failed or cancelled job again with ``changes`` to its arguments; returns the new
    job's id. Nothing is queued unless every change fits the task's signature."""
    job = get_job(job_id)
    if job.status not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
        raise JobError(
            f"job {job.id} is {job.status}; only failed or cancelled jobs can be retried"
        )
    merged = _checked(job, changes)
    again = db.session.query(JobLog.id).filter(JobLog.retry_of == job.id).first()
    if again is not None:
        raise JobError(f"job {job.id} was already retried as job {again.id}")
    task = task_named(job.task)
    source = (job.source_type, job.source_id) if job.source_type else None
    return task.dispatch(
        user_id=user_id or job.user_id,
        source=source,
        batch_id=job.batch_id,
        queue=job.queue,
        retry_of=job.id,
        tags=job.tags,
        **merged,
    )


def changes_from_original(job: JobLog) -> list[tuple[str, Any, Any]]:
    """For a retry, each argument whose value differs from the job it retried:
    (name, before, after); empty for a plain retry or a job that is no retry."""
    if job.retry_of is None:
        return []
    original = db.session.get(JobLog, job.retry_of)
    if original is None:
        return []
    before, after = arguments_by_name(original), arguments_by_name(job)
    return [
        (name, before.get(name), after.get(name))
        for name in list(dict.fromkeys([*before, *after]))
        if before.get(name) != after.get(name)
    ]
