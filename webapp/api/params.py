"""Reading query-string values with the contract's 400 on bad input."""

from datetime import UTC, datetime

from flask import abort, request


def int_arg(name: str, default: int | None = None, minimum: int | None = None) -> int | None:
    """An integer query parameter; 400 with a clear message when it is not one."""
    raw = request.args.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"{name} must be a whole number, not {raw!r}")
    if minimum is not None and value < minimum:
        abort(400, f"{name} must be at least {minimum}")
    return value


def str_arg(name: str) -> str | None:
    return request.args.get(name, "").strip() or None


def time_arg(name: str) -> datetime | None:
    """An ISO 8601 time query parameter (UTC unless it names an offset); 400 when it is not."""
    raw = request.args.get(name, "").strip()
    if raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        abort(400, f"{name} must be an ISO 8601 time such as 2026-01-31T09:30:00Z, not {raw!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
