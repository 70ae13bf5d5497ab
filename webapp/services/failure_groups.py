"""Failure groups: the failed list folded by task, error class and message with its numbers and
ids masked, so that a thousand "Timeout after 30 s on series 4711" read as one problem.

A group is named by a key that the page and the bulk actions pass back, so "retry this group" and
"delete this group" act on exactly the jobs the group showed (as they are when the action runs).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.services.jobs import FailedFilters, failed_jobs_query

# The most recent failed jobs grouped in one reading; older ones are counted by the list itself.
GROUPED_AT_MOST = 50_000
MASKS = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<id>"),
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?"), "<n>"),
)


def error_class(error: str | None) -> str:
    """The exception's class name from a stored ``"Type: message"`` error."""
    if not error:
        return "(no error)"
    head, sep, _ = error.partition(":")
    return head.strip() if sep and head.strip().isidentifier() else "(no class)"


def masked_message(error: str | None) -> str:
    """The error's message with numbers, hex values and ids replaced, first line only."""
    if not error:
        return ""
    _, sep, message = error.partition(":")
    text = (message if sep and error_class(error) != "(no class)" else error).strip()
    text = text.splitlines()[0] if text else ""
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return text[:300]


def group_key(task: str, error: str | None) -> str:
    """A short stable key for the group a failed job belongs to."""
    raw = "\x1f".join((task, error_class(error), masked_message(error)))
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
    job_ids: list[int] = field(default_factory=list)


def failure_groups(filters: FailedFilters | None = None) -> list[FailureGroup]:
    """The failed-and-not-retried jobs matching ``filters``, grouped, largest group first."""
    failed = failed_jobs_query(filters).subquery()
    rows = db.session.execute(
        select(failed.c.id, failed.c.task, failed.c.error, failed.c.finished_at)
        .order_by(failed.c.id.desc())
        .limit(GROUPED_AT_MOST)
    )
    groups: dict[str, FailureGroup] = {}
    for job_id, task, error, finished_at in rows:
        key = group_key(task, error)
        group = groups.get(key)
        if group is None:
            group = groups[key] = FailureGroup(
                key, task, error_class(error), masked_message(error), example_id=job_id
            )
            group.example_error = error
        group.count += 1
        group.job_ids.append(job_id)
        if finished_at is not None:
            group.first_seen = min(filter(None, (group.first_seen, finished_at)))
            group.last_seen = max(filter(None, (group.last_seen, finished_at)))
    return sorted(groups.values(), key=lambda g: (-g.count, g.task, g.message))


def group_job_ids(key: str, filters: FailedFilters | None = None) -> list[int]:
    """The ids of the failed jobs in the group called ``key``, oldest first (empty when the
    group no longer exists)."""
    for group in failure_groups(filters):
        if group.key == key:
            return sorted(group.job_ids)
    return []


def example(group: FailureGroup) -> JobLog | None:
    """The newest job of the group, to show its error in full."""
    return db.session.get(JobLog, group.example_id) if group.example_id else None
