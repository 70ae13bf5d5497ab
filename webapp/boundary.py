"""Bounded converters for everything a client sends: ids, counts, days, times and text.

One set, shared by the API, the pages and the CLI, so that a value the database or Python cannot
hold is refused with a message (``BadRequest``) instead of failing deep inside as a 500. Each
converter takes the raw value and the name the client used for it, for the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from webapp.exceptions import BadRequest

# What an INTEGER column (PostgreSQL's int4) holds: external ids, minutes, counts.
MAX_INTEGER = 2**31 - 1
# Ids and cursors. Every id column in this schema is an INTEGER, so no record has a larger id,
# and PostgreSQL refuses to compare an int4 column with one ("integer out of range"), even
# though SQLite would hold 2⁶³−1. Raise this with a migration to BIGINT ids.
MAX_ID = MAX_INTEGER
# Day counts whose timedelta stays far inside datetime's range (about 27,000 years).
MAX_DAYS = 10_000_000
# Times outside this range cannot be shifted by an offset or compared safely.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
# Text that fits a PostgreSQL varchar index comfortably; filters are never longer than this.
MAX_TEXT = 1000
# JSON bodies nest far less than this; Python's parser recurses once per level.
MAX_JSON_DEPTH = 64


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
    """A record id or keyset cursor: 1 … ``MAX_ID``."""
    return whole_number(raw, name, minimum=1, maximum=MAX_ID)


def optional_id(raw: str | None, name: str) -> int | None:
    """A query-string id or cursor, or None when it is blank (see ``record_id``)."""
    if raw is None or not str(raw).strip():
        return None
    return record_id(raw, name)


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


# A JSON string (skipped whole, escapes and all) or one bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth_exceeds(raw: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``raw`` nests arrays and objects deeper than ``limit``, found without parsing."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKEN.finditer(data):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing a body nested deeper than ``MAX_JSON_DEPTH`` (400) before the
    parser recurses into it."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if json_depth_exceeds(s):
            raise BadRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        return super().loads(s, **kwargs)


def refuse_nul(pairs: Iterable[tuple[str, str]], where: str) -> None:
    """BadRequest naming the first field whose name or value holds a NUL character."""
    for key, value in pairs:
        # a multipart part without a usable name comes through as None
        key, value = key or "", value or ""
        if "\x00" in key or "\x00" in value:
            name = key.replace("\x00", "")
            raise BadRequest(f"{where} {name!r} must not contain a NUL character", field=name)


def init_app(app: Flask) -> None:
    """Bound every request: JSON depth, and no NUL in the query string or form fields."""
    app.json = BoundedJSONProvider(app)

    @app.before_request
    def refuse_nul_characters() -> None:
        refuse_nul(request.args.items(multi=True), "query parameter")
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            refuse_nul(request.form.items(multi=True), "form field")
