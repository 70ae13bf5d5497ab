"""Retry with changes: run a failed or cancelled job again with some of its arguments changed,
checked against the task's signature before anything is queued, and show what changed.

Secrets: the job log never keeps a secret argument (it stores ``[redacted]``), so the arguments
are shown redacted, a value sent back as it was shown means "as the original job had it", and
a secret the log did not keep must be typed again: a retry never hands a task the literal
``[redacted]`` text in place of its secret.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from jobkit import task_named
from jobkit.redaction import REDACTED, is_secret_key, redact
from webapp.boundary import json_depth_exceeds
from webapp.exceptions import BadRequest, Invalid
from webapp.extensions import db
from webapp.models.jobs import JobLog, JobStatus
from webapp.services import audit
from webapp.services.jobs import JobError, get_job, retried_by

# The changed arguments a retry accepts: at most this much JSON, nested at most this deep.
MAX_ARGUMENT_BYTES = 64 * 1024
MAX_ARGUMENT_DEPTH = 32
# Plain annotations a changed value is checked against; others are taken as given.
_PLAIN = {t.__name__: t for t in (int, float, str, bool, list, dict)}
_MISSING = object()


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


def _by_name(job: JobLog, task: Any | None) -> dict[str, Any]:
    arguments = job.arguments or {}
    args, kwargs = arguments.get("args", []), arguments.get("kwargs", {})
    if task is not None:
        try:
            bound = task.signature.bind(*args, **kwargs)
        except TypeError:
            pass
        else:
            # the defaults it ran with, too, so the form shows every argument it can change
            for name, parameter in task.signature.parameters.items():
                if name not in bound.arguments and _is_json(parameter.default):
                    bound.arguments[name] = parameter.default
            order = list(task.signature.parameters)
            return dict(sorted(bound.arguments.items(), key=lambda item: order.index(item[0])))
    return {**{f"arg{i}": v for i, v in enumerate(args)}, **kwargs}


def _is_json(value: Any) -> bool:
    if value is inspect.Parameter.empty:
        return False
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def arguments_by_name(job: JobLog) -> dict[str, Any]:
    """The job's arguments by parameter name, as the job log keeps them, with the defaults
    of those it was not given."""
    return _by_name(job, task_named(job.task))


def shown_arguments(job: JobLog) -> dict[str, Any]:
    """The job's arguments by name as a person may see them: every secret ``[redacted]``."""
    task = task_named(job.task)
    secret = getattr(task, "secret_args", frozenset())
    return {
        name: REDACTED if name in secret and value not in (None, "") else redact(value)
        for name, value in _by_name(job, task).items()
    }


def task_parameters(job: JobLog) -> list[dict[str, Any]]:
    """The parameters the job's task takes, to show beside its arguments: name, type,
    default (as JSON) and whether it must be given; empty when the task no longer exists."""
    task = task_named(job.task)
    if task is None:
        return []
    shown = []
    for parameter in task.signature.parameters.values():
        annotation, default = parameter.annotation, parameter.default
        if annotation is inspect.Parameter.empty:
            kind = ""
        elif isinstance(annotation, str):
            kind = annotation
        else:
            kind = getattr(annotation, "__name__", str(annotation))
        required = default is inspect.Parameter.empty
        shown.append(
            {
                "name": parameter.name,
                "type": kind,
                "required": required,
                "default": None if required else json.dumps(default, default=str),
            }
        )
    return shown


def _restored(value: Any, shown: Any, kept: Any) -> Any:
    """``value`` with each part sent back exactly as it was shown replaced by what the job log
    keeps there (so an unchanged redacted value means the original's, not the mask)."""
    if value == shown:
        return kept
    if isinstance(value, dict) and isinstance(shown, dict) and isinstance(kept, dict):
        return {
            k: _restored(v, shown[k], kept[k]) if k in shown and k in kept else v
            for k, v in value.items()
        }
    if (
        isinstance(value, list)
        and isinstance(shown, list)
        and isinstance(kept, list)
        and len(value) == len(shown) == len(kept)
    ):
        return [_restored(v, s, k) for v, s, k in zip(value, shown, kept, strict=True)]
    return value


def _holds_mask(value: Any) -> bool:
    if isinstance(value, str):
        return REDACTED in value
    if isinstance(value, dict):
        return any(_holds_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_mask(v) for v in value)
    return False


def _bounded(changes: Any, name: str) -> dict[str, Any]:
    """The changes as an object of plain JSON values, bounded in size and depth."""
    if not isinstance(changes, dict):
        raise Invalid(f"{name} must be an object of argument names and values", field=name)
    try:
        text = json.dumps(changes, allow_nan=False)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must hold JSON values (finite numbers)", field=name) from None
    if len(text) > MAX_ARGUMENT_BYTES:
        raise Invalid(
            f"{name} must be at most {MAX_ARGUMENT_BYTES} bytes of JSON, not {len(text)}",
            field=name,
        )
    if json_depth_exceeds(text, MAX_ARGUMENT_DEPTH):
        raise Invalid(f"{name} must nest at most {MAX_ARGUMENT_DEPTH} levels", field=name)
    if "\\u0000" in text:
        raise BadRequest(f"{name} must not contain a NUL character", field=name)
    if _int_out_of_range(changes):
        raise Invalid(
            f"{name} must hold whole numbers from -{MAX_WHOLE + 1} to {MAX_WHOLE}", field=name
        )
    return changes


# A whole number a 64-bit integer holds (what a database column or another language can take).
MAX_WHOLE = 2**63 - 1


def _int_out_of_range(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -MAX_WHOLE - 1 <= value <= MAX_WHOLE
    if isinstance(value, dict):
        return any(_int_out_of_range(v) for v in value.values())
    if isinstance(value, list):
        return any(_int_out_of_range(v) for v in value)
    return False


def parse_arguments(text: str, name: str = "arguments") -> Any:
    """The JSON a person typed for a retry's arguments; Invalid, naming ``name`` and where
    the JSON breaks, when it is not JSON or too large or too deep to take."""
    if len(text.encode()) > MAX_ARGUMENT_BYTES:
        raise Invalid(f"{name} must be at most {MAX_ARGUMENT_BYTES} bytes of JSON", field=name)
    if json_depth_exceeds(text, MAX_ARGUMENT_DEPTH):
        raise Invalid(f"{name} must nest at most {MAX_ARGUMENT_DEPTH} levels", field=name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            field=name,
        ) from None


def _checked(
    job: JobLog, task: Any, changes: dict[str, Any], replace: bool, field: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arguments the retry runs with, and the original's; Invalid naming what does not
    fit the task's signature."""
    original, shown = _by_name(job, task), shown_arguments(job)
    given = {
        name: _restored(value, shown.get(name, _MISSING), original.get(name))
        for name, value in changes.items()
    }
    parameters = task.signature.parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for name, value in given.items():
        parameter = parameters.get(name)
        if parameter is None and not open_ended:
            known = ", ".join(parameters) or "none"
            hint = " (give the arguments by name at the top level)" if name in _NESTING else ""
            raise Invalid(
                f"{job.task} takes no argument {name!r}{hint}; it takes: {known}", field=field
            )
        expected = _plain_type(parameter)
        if expected is not None and value is not None and not _fits(value, expected):
            raise Invalid(
                f"{name} must be {expected.__name__}, not {json.dumps(value)[:80]}",
                field=field,
            )
    merged = given if replace else {**original, **given}
    for name, value in merged.items():
        if _holds_mask(value):
            raise Invalid(
                f"{name} holds a secret that the job log does not keep ({REDACTED}); "
                "type its whole value again",
                field=field,
            )
    try:
        task.signature.bind(**merged)
    except TypeError as exc:
        raise Invalid(f"{job.task}: {exc}", field=field) from None
    return merged, original


# Keys people put around the arguments by mistake (the API's body, the stored shape).
_NESTING = ("kwargs", "args", "arguments")


def retryable(job: JobLog) -> Any:
    """The task that runs ``job`` again; JobError when the job is not failed or cancelled,
    was already retried, or its task no longer exists."""
    if job.status not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
        raise JobError(
            f"job {job.id} is {job.status}; only failed or cancelled jobs can be retried"
        )
    again = retried_by(job.id)
    if again is not None:
        raise JobError(f"job {job.id} was already retried as job {again}")
    task = task_named(job.task)
    if task is None:
        raise JobError(f"task {job.task!r} no longer exists, so job {job.id} cannot run")
    return task


def retry_with_changes(
    job_id: int,
    changes: Any,
    user_id: int | None = None,
    *,
    replace: bool = False,
    field: str = "kwargs",
) -> int:
    """Run a failed or cancelled job again with ``changes`` to its arguments (``replace``: the
    whole arguments, missing ones taking their defaults); returns the new job's id. Nothing is
    queued unless every argument fits the task's signature (Invalid naming ``field``).
    Audited as ``job.retry_with_changes`` with the changed arguments, secrets redacted."""
    job = get_job(job_id)
    task = retryable(job)
    merged, original = _checked(job, task, _bounded(changes, field), replace, field)
    source = (job.source_type, job.source_id) if job.source_type else None
    new_id = task.dispatch(
        user_id=job.user_id if job.user_id is not None else user_id,
        source=source,
        batch_id=job.batch_id,
        queue=job.queue,
        retry_of=job.id,
        tags=job.tags,
        **merged,
    )
    changed = _secrets_hidden(task, audit.diff(original, merged))
    audit.record("job.retry_with_changes", ("job", job.id), changes={"new_job": new_id, **changed})
    db.session.commit()
    return new_id


def _secrets_hidden(task: Any, changed: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The audit's ``{"name": [before, after]}`` with no secret in it."""
    secret = getattr(task, "secret_args", frozenset())
    return {
        name: [REDACTED, "[changed]"] if name in secret or is_secret_key(name) else redact(pair)
        for name, pair in changed.items()
    }


def changes_from_original(job: JobLog) -> list[tuple[str, Any, Any]]:
    """For a retry, each argument whose value differs from the job it retried:
    (name, before, after), secrets redacted; empty for a plain retry or a job that is no
    retry."""
    if job.retry_of is None:
        return []
    original = db.session.get(JobLog, job.retry_of)
    if original is None:
        return []
    before, after = shown_arguments(original), shown_arguments(job)
    return [
        (name, before.get(name), after.get(name))
        for name in list(dict.fromkeys([*before, *after]))
        if before.get(name) != after.get(name)
    ]
