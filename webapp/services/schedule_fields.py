"""A schedule's fields checked, from API or form data: each field on its own, so that a form
can show every problem at once while the API answers with the first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from webapp import boundary
from webapp.exceptions import Conflict, Invalid, ServiceError
from webapp.extensions import db
from webapp.models.jobs import QUEUES
from webapp.models.schedules import Schedule
from webapp.services import commands, timing


class ScheduleError(Invalid):
    """Bad schedule fields, one message per field (``field`` names it)."""


class ScheduleNameTaken(Conflict, ScheduleError):
    """Another schedule has this name."""


FIELDS = frozenset(
    {
        "name",
        "description",
        "command",
        "parameters",
        "cron",
        "preset",
        "preset_at",
        "preset_day",
        "preset_hours",
        "timezone",
        "queue",
        "active",
        "without_overlapping",
        "success_window_minutes",
    }
)

Check = Callable[[dict[str, Any], Schedule | None], dict[str, Any]]


def _text_field(data: dict[str, Any], name: str, max_length: int) -> str:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ScheduleError(f"{name} must be text", field=name)
    return boundary.text(value or "", name, max_length)


def _name(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    if "name" not in data and schedule is not None:
        return {}
    name = _text_field(data, "name", 10_000).strip()
    if not name or len(name) > 100:
        raise ScheduleError("a name of 1 to 100 characters is required", field="name")
    taken = db.session.scalar(select(Schedule.id).where(Schedule.name == name))
    if taken is not None and (schedule is None or taken != schedule.id):
        raise ScheduleNameTaken(f"a schedule called {name!r} already exists", field="name")
    return {"name": name}


def _description(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    if "description" not in data:
        return {}
    return {"description": _text_field(data, "description", 100_000)[:2000]}


def _command(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    command = data.get("command", schedule.command if schedule else None)
    parameters = data.get("parameters", schedule.parameters if schedule else {}) or {}
    try:
        if not isinstance(command, str) or not command:
            raise commands.CommandError("a command is required", field="command")
        return {
            "parameters": commands.validate_parameters(command, parameters),
            "command": command,
        }
    except commands.CommandError as exc:
        raise ScheduleError(exc.message, field=exc.field or "command") from None


def _timing(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    if data.get("preset"):
        return {
            "cron": timing.preset_cron(
                data["preset"],
                data.get("preset_at", ""),
                data.get("preset_day", ""),
                data.get("preset_hours", ""),
            )
        }
    if "cron" in data or schedule is None:
        return {"cron": timing.validate_cron(data.get("cron") or "")}
    return {}


def _timezone(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    if "timezone" in data or schedule is None:
        return {"timezone": timing.zone(data.get("timezone") or "UTC").key}
    return {}


def _queue(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    if "queue" not in data:
        return {}
    if not isinstance(data["queue"], str) or data["queue"] not in QUEUES:
        raise ScheduleError(f"queue must be one of {', '.join(QUEUES)}", field="queue")
    return {"queue": data["queue"]}


def _flags(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    fields = {}
    for flag in ("active", "without_overlapping"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise ScheduleError(f"{flag} must be true or false", field=flag)
            fields[flag] = data[flag]
    return fields


def _success_window(data: dict[str, Any], schedule: Schedule | None) -> dict[str, Any]:
    if "success_window_minutes" not in data:
        return {}
    window = data["success_window_minutes"]
    if window is not None and (not isinstance(window, int) or isinstance(window, bool)):
        raise ScheduleError(
            "success_window_minutes must be a whole number of minutes",
            field="success_window_minutes",
        )
    if window is not None:
        window = boundary.whole_number(
            window, "success_window_minutes", minimum=1, maximum=boundary.MAX_INTEGER
        )
    return {"success_window_minutes": window}


# In the order the API reports the first problem.
CHECKS: tuple[Check, ...] = (
    _name,
    _description,
    _command,
    _timing,
    _timezone,
    _queue,
    _flags,
    _success_window,
)


def check_fields(
    data: dict[str, Any], schedule: Schedule | None = None
) -> tuple[dict[str, Any], list[ScheduleError]]:
    """The cleaned fields and every problem found, each field checked on its own; ``schedule``
    given: a partial update of it."""
    unknown = set(data) - FIELDS
    if unknown:
        return {}, [ScheduleError(f"unknown fields: {', '.join(sorted(unknown))}")]
    fields: dict[str, Any] = {}
    problems: list[ScheduleError] = []
    for check in CHECKS:
        try:
            fields |= check(data, schedule)
        except ScheduleError as exc:
            problems.append(exc)
        except ServiceError as exc:
            # A boundary refusal (NUL, a number out of range) or a timing one, as a field error.
            problems.append(ScheduleError(exc.message, field=exc.field))
    if schedule is None:
        fields.setdefault("active", True)
        fields.setdefault("without_overlapping", False)
        fields.setdefault("queue", "default")
    return fields, problems


def clean_fields(data: dict[str, Any], schedule: Schedule | None = None) -> dict[str, Any]:
    """Validated schedule fields from API or form data; ScheduleError for the first problem."""
    fields, problems = check_fields(data, schedule)
    if problems:
        raise problems[0]
    return fields
