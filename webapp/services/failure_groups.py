"""Failure groups: the failed list folded by task, error class and message with its numbers and
ids masked, so that a thousand "Timeout after 30 s on series 4711" read as one problem.

The grouping happens in the database: PostgreSQL masks with ``regexp_replace``, SQLite with the
same Python function registered on its connection (each distinct error worked out once), so a
page reads one row per group, never one per job. A group is named by a key that the page, the
API and the CLI pass back, so "retry this group" and "delete this group" act on the jobs of
that group as they are when the action runs (and say how many that was).
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select

from webapp.exceptions import NotFound
from webapp.extensions import db
from webapp.models.base import isoformat
from webapp.models.jobs import JobLog
from webapp.services import jobs as job_service
from webapp.services.jobs import FailedFilters, failed_jobs_query

NO_ERROR, NO_CLASS = "(no error)", "(no class)"
SEPARATOR = "\x1f"  # between the class and the message in a fingerprint
MESSAGE_LENGTH = 300
# (Python pattern, PostgreSQL pattern, flags, mask): the same masks in both dialects.
MASKS = (
    (
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        r"\y[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\y",
        "gi",
        "<id>",
    ),
    (r"\b0x[0-9a-f]+\b", r"\y0x[0-9a-f]+\y", "gi", "<hex>"),
    (r"\b[0-9a-f]{16,}\b", r"\y[0-9a-f]{16,}\y", "gi", "<id>"),
    (r"(?<![\w.])\d+(?:\.\d+)?", r"(?<![[:alnum:]_.])[0-9]+(\.[0-9]+)?", "g", "<n>"),
)
_PY_MASKS = tuple(
    (re.compile(py, re.I if "i" in flags else 0), mask) for py, _, flags, mask in MASKS
)
# A stored error "Type: message" starts with an identifier and a colon.
_PG_CLASS_HEAD = r"^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*:"
_PG_EDGE_SPACE = r"^[[:space:]]+|[[:space:]]+$"


def error_class(error: str | None) -> str:
    """The exception's class name from a stored ``"Type: message"`` error."""
    if not error:
        return NO_ERROR
    head, sep, _ = error.partition(":")
    return head.strip() if sep and head.strip().isidentifier() else NO_CLASS


def masked_message(error: str | None) -> str:
    """The error's message with numbers, hex values and ids replaced, first line only."""
    if not error:
        return ""
    _, sep, message = error.partition(":")
    text = (message if sep and error_class(error) != NO_CLASS else error).strip()
    text = text.splitlines()[0].strip() if text else ""
    for pattern, mask in _PY_MASKS:
        text = pattern.sub(mask, text)
    return text[:MESSAGE_LENGTH]


@functools.lru_cache(maxsize=8192)
def error_fingerprint(error: str | None) -> str:
    """The error's class and masked message in one text (a failed list repeats its errors,
    so each distinct one is worked out once)."""
    return f"{error_class(error)}{SEPARATOR}{masked_message(error)}"


def _sql_fingerprint(error: ColumnElement) -> ColumnElement:
    """A SQL expression for ``error_fingerprint`` of a column, in this database's dialect."""
    if db.engine.dialect.name == "sqlite":
        raw = db.session.connection().connection.dbapi_connection
        if isinstance(raw, sqlite3.Connection):
            raw.create_function(
                "jobdeck_error_fingerprint", 1, error_fingerprint, deterministic=True
            )
        return func.jobdeck_error_fingerprint(error)
    has_class = error.regexp_match(_PG_CLASS_HEAD)
    cls = case(
        (or_(error.is_(None), error == ""), NO_ERROR),
        (has_class, func.regexp_replace(func.split_part(error, ":", 1), _PG_EDGE_SPACE, "", "g")),
        else_=NO_CLASS,
    )
    text = case((has_class, func.substr(error, func.strpos(error, ":") + 1)), else_=error)
    text = func.substring(func.regexp_replace(text, _PG_EDGE_SPACE, "", "g"), r"^[^\r\n]*")
    text = func.regexp_replace(text, _PG_EDGE_SPACE, "", "g")
    for _, pattern, flags, mask in MASKS:
        text = func.regexp_replace(text, pattern, mask, flags)
    return cls + SEPARATOR + func.coalesce(func.left(text, MESSAGE_LENGTH), "")


def group_key(task: str, cls: str, message: str) -> str:
    """A short stable key for the group of a task, an error class and a masked message."""
    raw = "\x1f".join((task, cls, message))
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


@dataclass
class FailureGroup:
    """Failed jobs that share a task, an error class and a masked message."""

    key: str
    task: str
    error_class: str
    message: str
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    example_id: int | None = None
    example_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "task": self.task,
            "error_class": self.error_class,
            "message": self.message,
            "count": self.count,
            "first_seen": _utc_text(self.first_seen),
            "last_seen": _utc_text(self.last_seen),
            "example_id": self.example_id,
            "example_error": self.example_error,
        }


def _classified(filters: FailedFilters | None) -> Select:
    """The failed list, one row per job with its task and error fingerprint."""
    failed = failed_jobs_query(filters).subquery()
    fingerprint = _sql_fingerprint(failed.c.error)
    return select(failed.c.id, failed.c.task, failed.c.finished_at, fingerprint.label("fp"))


def failure_groups(filters: FailedFilters | None = None, limit: int = 100) -> list[FailureGroup]:
    """The failed-and-not-retried jobs matching ``filters``, grouped, the ``limit`` largest
    groups first (ask for one more to learn whether there are more)."""
    # First by the exact error, so that each distinct one is masked once, then by fingerprint.
    failed = failed_jobs_query(filters).subquery()
    exact = (
        select(
            failed.c.task,
            failed.c.error,
            func.count().label("count"),
            func.min(failed.c.finished_at).label("first"),
            func.max(failed.c.finished_at).label("last"),
            func.max(failed.c.id).label("newest"),
        )
        .group_by(failed.c.task, failed.c.error)
        .subquery()
    )
    rows = select(exact, _sql_fingerprint(exact.c.error).label("fp")).subquery()
    found = db.session.execute(
        select(
            rows.c.task,
            rows.c.fp,
            func.sum(rows.c.count).label("count"),
            func.min(rows.c.first),
            func.max(rows.c.last),
            func.max(rows.c.newest),
        )
        .group_by(rows.c.task, rows.c.fp)
        .order_by(func.sum(rows.c.count).desc(), rows.c.task, rows.c.fp)
        .limit(limit)
    ).all()
    groups = []
    for task, fingerprint, count, first, last, example in found:
        cls, _, msg = fingerprint.partition(SEPARATOR)
        key = group_key(task, cls, msg)
        groups.append(FailureGroup(key, task, cls, msg, int(count), first, last, example))
    errors = dict(
        db.session.execute(
            select(JobLog.id, JobLog.error).where(JobLog.id.in_([g.example_id for g in groups]))
        ).all()
    )
    for group in groups:
        group.example_error = errors.get(group.example_id)
    return groups


def failure_group(key: str, filters: FailedFilters | None = None) -> FailureGroup:
    """The group called ``key`` as it is now; NotFound when none of its jobs is on the failed
    list (with these filters, for this viewer) any more, or there never was such a group."""
    for group in failure_groups(filters, limit=1_000_000):
        if group.key == key:
            return group
    raise NotFound(
        f"no failure group {key!r} is on the failed list now (it may have been retried or "
        "deleted meanwhile)"
    )


def group_job_ids(group: FailureGroup, filters: FailedFilters | None = None) -> list[int]:
    """The ids of the failed jobs in ``group`` now, oldest first."""
    rows = _classified(filters).subquery()
    return list(
        db.session.scalars(
            select(rows.c.id)
            .where(
                rows.c.task == group.task,
                rows.c.fp == f"{group.error_class}{SEPARATOR}{group.message}",
            )
            .order_by(rows.c.id)
        )
    )


@dataclass
class GroupAction:
    """What a group action did: the jobs it found in the group now, and how many it acted on."""

    group: FailureGroup
    matched: int
    done: int
    new_ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.group.key,
            "matched": self.matched,
            "done": self.done,
            "job_ids": self.new_ids,
            "problems": self.problems,
        }


def _audit_filters(group: FailureGroup, filters: FailedFilters | None) -> dict[str, Any]:
    scope = filters.as_query() if filters else {}
    return {
        "group": group.key,
        "task": group.task,
        "error_class": group.error_class,
        "message": group.message,
        **({"list_filters": scope} if scope else {}),
    }


def retry_group(
    key: str, filters: FailedFilters | None = None, user_id: int | None = None
) -> GroupAction:
    """Retry every failed job of the group ``key`` now on the list, in chunks; audited as
    ``failed.retry_group`` with the group and the count."""
    group = failure_group(key, filters)
    ids = group_job_ids(group, filters)
    new_ids, problems = job_service.retry_jobs(
        ids, user_id, action="failed.retry_group", filters=_audit_filters(group, filters)
    )
    return GroupAction(group, len(ids), len(new_ids), new_ids, problems)


def delete_group(key: str, filters: FailedFilters | None = None) -> GroupAction:
    """Delete the job records of the group ``key`` now on the failed list, in chunks; audited
    as ``failed.delete_group`` with the group and the count."""
    group = failure_group(key, filters)
    ids = group_job_ids(group, filters)
    deleted = job_service.delete_failed_jobs(
        ids, action="failed.delete_group", filters=_audit_filters(group, filters)
    )
    return GroupAction(group, len(ids), deleted)


def _utc_text(moment: datetime | None) -> str | None:
    """A stored UTC time as the API writes every time: ISO 8601 with a ``Z``."""
    if moment is None:
        return None
    return isoformat(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)
