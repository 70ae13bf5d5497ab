"""Bounded converters for everything a client sends: ids, counts, days, times and text.

One set, shared by the API, the pages and the CLI, so that a value the database or Python cannot
hold is refused with a message (``BadRequest``) instead of failing deep inside as a 500. Each
converter takes the raw value and the name the client used for it, for the message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werkzeug.routing import IntegerConverter

from webapp.exceptions import BadRequest

# Ids and cursors are INTEGER columns: 32-bit on PostgreSQL (a larger value in a query is an
# "integer out of range" error there), so that is the bound on both databases.
MAX_ID = 2**31 - 1
# Day counts whose timedelta stays far inside datetime's range (about 27,000 years).
MAX_DAYS = 10_000_000
# Times outside this range cannot be shifted by an offset or compared safely.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
# Text that fits a PostgreSQL varchar index comfortably; filters are never longer than this.
MAX_TEXT = 1000


def whole_number(raw: object, name: str, minimum: int = 0, maximum: int = MAX_ID) -> int:
    """``raw`` as an int within [minimum, maximum]; booleans and fractions are refused."""
    if isinstance(raw, bool):
        raise BadRequest(f"{name} must be a whole number, not {raw!r}", field=name)
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip()
        if not text.lstrip("+-").isascii() or not text.lstrip("+-").isdigit() or len(text) > 25:
            raise BadRequest(f"{name} must be a whole number, not {_shown(text)}", field=name)
        value = int(text)
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}", field=name)
    if value > maximum:
        raise BadRequest(f"{name} must be at most {maximum}", field=name)
    return value


def record_id(raw: object, name: str = "id") -> int:
    """A record id or keyset cursor: 1 … MAX_ID (2³¹−1)."""
    return whole_number(raw, name, minimum=1, maximum=MAX_ID)


def day_count(raw: object, name: str = "days") -> int:
    """A number of days that a timedelta and a date subtraction can hold."""
    return whole_number(raw, name, minimum=0, maximum=MAX_DAYS)


def days_ago(days: int, now: datetime) -> datetime:
    """``now`` minus ``days``, clamped at the earliest time we store."""
    try:
        return max(now - timedelta(days=days), EARLIEST)
    except OverflowError:
        return EARLIEST


def moment(raw: object, name: str) -> datetime:
    """An ISO 8601 time (UTC unless it names an offset), in UTC, clamped to year 1 … 9999."""
    text = str(raw).strip()
    if len(text) > 64:
        raise BadRequest(f"{name} must be an ISO 8601 time, not {_shown(text)}", field=name)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name} must be an ISO 8601 time such as 2026-01-31T09:30:00Z, not {_shown(text)}",
            field=name,
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        # Year 1 with a positive offset, or 9999 with a negative one, leaves the calendar.
        value = EARLIEST if value.year < 5000 else LATEST
    return min(max(value, EARLIEST), LATEST)


def text(raw: object, name: str, max_length: int = MAX_TEXT) -> str:
    """Text a client sent: no NUL (PostgreSQL cannot store it), at most ``max_length`` long."""
    value = str(raw)
    if "\x00" in value:
        raise BadRequest(f"{name} must not contain a NUL character", field=name)
    if len(value) > max_length:
        raise BadRequest(f"{name} must be at most {max_length} characters", field=name)
    return value


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 1 … ``limit``, without leading zeros."""
    digits = str(limit)
    options = [rf"[1-9]\d{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - i - 1
            options.append(
                f"{digits[:i]}[{lowest}-{int(digit) - 1}]" + rf"\d{{{rest}}}" * bool(rest)
            )
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


class BoundedIdConverter(IntegerConverter):
    """``<int:…>`` in every route: only 1 … MAX_ID match, so a larger id matches no route and is a
    404 for every method (a value refused after matching would make werkzeug answer 405 when
    another rule on the same path has other methods), never a 500."""

    regex = _up_to(MAX_ID)

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
