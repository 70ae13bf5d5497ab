"""Secrets are replaced by ``[redacted]`` before anything about a job is stored.

Pure functions over JSON-able values and text; nothing of the app is imported here, so the job
framework can call them on its write path. ``configure`` adds a deployment's own key names
(``REDACT_KEYS``) to the built-in list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

# A key matches when one of these is part of its name, ignoring case, "-" and "_":
# "X-Api-Key", "db_password" and "refreshToken" all match.
BUILT_IN_KEYS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "authorization",
    "cookie",
    "session",
    "private_key",
    "client_secret",
    "credential",
)

_keys: tuple[str, ...] = ()
_verdicts: dict[str, bool] = {}
MAX_REMEMBERED_KEYS = 10_000
_key_pattern: re.Pattern[str]
_query_pattern: re.Pattern[str]

# user:password@ in any URL-like text (the user name is kept: it is rarely the secret).
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^\s:/@?#]*):[^\s@/?#]+@", re.I
)
# "Authorization: Bearer x", "Authorization: Basic x", "Bearer x" in logs and errors.
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:authorization|proxy-authorization)\b[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:bearer|basic|token|digest)\s+)?)[^\s\"',;]+",
    re.I,
)
# 'password': 'x' and "token": "x" as a dict's repr or JSON shows them inside text.
_QUOTED_PAIR = re.compile(
    r"(?P<q>[\"'])(?P<name>[\w.-]+)(?P=q)(?P<sep>\s*:\s*)(?P<vq>[\"'])(?P<value>.*?)(?<!\\)(?P=vq)"
)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)[A-Za-z0-9._~+/=-]{6,}", re.I)


def _squash(name: str) -> str:
    return re.sub(r"[-_\s]", "", name.lower())


def configure(extra_keys: Iterable[str] = ()) -> None:
    """Use the built-in key names plus ``extra_keys`` (``REDACT_KEYS``) from now on."""
    global _keys, _key_pattern, _query_pattern
    names = {_squash(k) for k in (*BUILT_IN_KEYS, *extra_keys) if k.strip()}
    _keys = tuple(sorted(names))
    _verdicts.clear()
    alternatives = "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
    _key_pattern = re.compile(alternatives)
    # name=value in a query string or a form body: the name may carry -, _ and other words.
    _query_pattern = re.compile(
        r"(?P<name>[?&;\s\"'(]?[\w.-]*?)(?P<eq>=)(?P<value>[^&#\s\"'<>),;]+)", re.I
    )


def keys() -> tuple[str, ...]:
    """The key names in use (squashed: lower case, no "-" or "_")."""
    return _keys


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (remembered per key: every job's arguments repeat
    the same few keys, and a bulk dispatch asks for thousands)."""
    if not isinstance(key, str):
        return False
    known = _verdicts.get(key)
    if known is None:
        if len(_verdicts) >= MAX_REMEMBERED_KEYS:
            _verdicts.clear()
        known = _verdicts[key] = bool(_key_pattern.search(_squash(key)))
    return known


def _redact_pair(match: re.Match[str]) -> str:
    name = match.group("name")
    if is_secret_key(name.lstrip("?&;\"'( \t\n")):
        return f"{name}={REDACTED}"
    return match.group(0)


def _redact_quoted(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("name")):
        return match.group(0)
    q, vq = match.group("q"), match.group("vq")
    return f"{q}{match.group('name')}{q}{match.group('sep')}{vq}{REDACTED}{vq}"


def redact_text(text: str) -> str:
    """``text`` with URL credentials, secret query or form parameters and authorization
    headers replaced by ``[redacted]``."""
    if not text:
        return text
    if "@" in text:
        text = _URL_CREDENTIALS.sub(rf"\g<scheme>\g<user>:{REDACTED}@", text)
    if "=" in text:
        text = _query_pattern.sub(_redact_pair, text)
    if ":" in text:
        text = _QUOTED_PAIR.sub(_redact_quoted, text)
    lowered = text.lower()
    if "authorization" in lowered:
        text = _AUTH_HEADER.sub(rf"\g<head>{REDACTED}", text)
    if "bearer" in lowered:
        text = _BEARER.sub(rf"\g<head>{REDACTED}", text)
    return text


def redact(value: Any) -> Any:
    """A copy of a JSON-able value with every value under a secret key replaced by
    ``[redacted]`` and every string passed through ``redact_text``."""
    kind = type(value)
    if kind is int or kind is float or kind is bool or value is None:
        return value  # the most common leaves, told apart at once
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(key) and item not in (None, "") else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


# The job-log columns that can carry what a task was given or said.
JOB_TEXT_COLUMNS = ("message", "error", "traceback")
JOB_VALUE_COLUMNS = ("arguments", "payload", "attempt_errors")


_JOB_COLUMNS = frozenset(JOB_TEXT_COLUMNS + JOB_VALUE_COLUMNS)


def redact_job_values(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """Job-log column values as they may be stored: arguments, payload, message, error,
    traceback and attempt errors redacted, every other column as it is."""
    if _JOB_COLUMNS.isdisjoint(values):
        return values  # most state changes (running, progress) carry none: no copy
    cleaned = dict(values)
    for name in JOB_TEXT_COLUMNS:
        if cleaned.get(name):
            cleaned[name] = redact_text(cleaned[name])
    for name in JOB_VALUE_COLUMNS:
        if cleaned.get(name):
            cleaned[name] = redact_value(cleaned[name])
    return cleaned


def redact_value(value: Any) -> Any:
    """``redact(value)``, or ``value`` itself when that would give back an equal value."""
    return value if _nothing_to_redact(value) else redact(value)


def _nothing_to_redact(value: Any) -> bool:
    """True when ``redact`` would give back an equal value: numbers, booleans and nulls in
    dicts and lists, under no secret key (the arguments of most jobs: record ids). Finding
    that out makes no copy, which a bulk dispatch of 100,000 jobs notices."""
    kind = type(value)
    if kind is int or kind is float or kind is bool or value is None:
        return True
    # No generators: this runs for every job of a bulk dispatch.
    if kind is dict:
        for key, item in value.items():
            secret = _verdicts.get(key)  # the remembered verdict, else the full look
            if (is_secret_key(key) if secret is None else secret) or not _nothing_to_redact(item):
                return False
        return True
    if kind is list:
        return all(map(_nothing_to_redact, value))
    return False  # text may hold a secret; a tuple becomes a list


class RedactingFilter(logging.Filter):
    """A handler filter: the message and any traceback of each record, redacted."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_text(record.getMessage()), ()
        if record.exc_info:
            record.exc_text = redact_text(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Redact everything the handlers of ``logger`` (the root logger) write."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


configure()
