"""The audit log: who did what, to what, from where.

The web layer and the CLI say once per request or command who is acting (``acting_as``); the
services call ``record`` where the change happens, before their commit, so that the audit row
commits in the same transaction as the change. Outside a request or command (the consumer, the
scheduler) the actor is ``system``.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, insert, or_, select

from webapp.exceptions import BadRequest
from webapp.extensions import db
from webapp.models.audit import CHANNELS, AuditedRecord, AuditEntry
from webapp.models.base import query_time, utcnow
from webapp.models.users import User


@dataclass(frozen=True)
class Actor:
    """Who is acting: a fixed label (``cli:alice``, ``system``) or the signed-in user, read
    when a row is written (so that a sign-in during the request counts)."""

    channel: str
    label: str = "system"
    user: Callable[[], User | None] | None = None
    ip: str | None = None


SYSTEM = Actor("system")
_actor: ContextVar[Actor] = ContextVar("audit_actor", default=SYSTEM)


def acting_as(actor: Actor) -> Token:
    """Make ``actor`` the author of what is recorded until ``stop_acting(token)``."""
    if actor.channel not in CHANNELS:
        raise ValueError(f"unknown audit channel {actor.channel!r}")
    return _actor.set(actor)


def stop_acting(token: Token) -> None:
    """Go back to whoever was acting before ``acting_as`` returned ``token``."""
    _actor.reset(token)


def cli_actor() -> Actor:
    """The person running a command: ``cli:<their OS user name>``."""
    return Actor("cli", f"cli:{getpass.getuser()}")


def current_channel() -> str:
    """Where the current action comes from: page, api, cli or system."""
    return _actor.get().channel


def current_actor() -> tuple[int | None, str]:
    """The acting user's id (None for the CLI and the system) and the actor's label."""
    actor = _actor.get()
    user = actor.user() if actor.user else None
    if user is not None:
        return user.id, user.email
    return None, actor.label if actor.user is None else "anonymous"


def record(
    action: str,
    target: tuple[str, Any] | None = None,
    *,
    count: int | None = None,
    filters: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    records: tuple[str, Iterable[Any]] | None = None,
) -> AuditEntry:
    """Add one audit row to the session; it is written by the caller's next commit.

    ``target`` is (type, id); a bulk action gives ``count``, the ``filters`` that chose the
    rows and, as ``records`` (type, ids), the records it acted on, so that each one's page
    and the target filter find the row; an edit gives ``changes`` as
    ``{"field": [before, after]}``.
    """
    actor = _actor.get()
    user_id, label = current_actor()
    entry = AuditEntry(
        at=utcnow(),
        user_id=user_id,
        actor=label,
        channel=actor.channel,
        action=action,
        target_type=target[0] if target else None,
        target_id=str(target[1]) if target and target[1] is not None else None,
        count=count,
        filters=_plain(filters) if filters is not None else None,
        changes=_plain(changes) if changes else None,
        ip=actor.ip,
    )
    db.session.add(entry)
    if records is not None:
        kind, ids = records
        rows = [
            {"entry_id": None, "target_type": kind, "target_id": str(i)} for i in dict.fromkeys(ids)
        ]
        if rows:
            db.session.flush()
            for row in rows:
                row["entry_id"] = entry.id
            db.session.execute(insert(AuditedRecord), rows)
    return entry


def record_pause_change(action: str, kind: str, name: str) -> None:
    """Record a queue or task being paused or resumed (``queue.pause``, ``task.resume`` …);
    a listener of ``jobkit.pauses``."""
    record(f"{kind}.{action}", (kind, name))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose value changed, as ``{"field": [before, after]}``."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _plain(value: Any) -> Any:
    """JSON-safe: times as ISO strings, everything else as it is or as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """The filters of /audit, the API and ``audit list``; None means any.

    ``action`` ending in ``*`` matches a prefix (``schedule.*``).
    """

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before

    def as_query(self) -> dict[str, str]:
        """The filters that are set, as query-string values."""
        return {
            key: query_time(value) if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
            if value not in (None, "")
        }

    def apply(self, stmt: Select) -> Select:
        if self.actor:
            stmt = stmt.where(AuditEntry.actor == self.actor.strip())
        if self.action:
            if self.action.endswith("*"):
                prefix = self.action[:-1].replace("%", r"\%").replace("_", r"\_")
                stmt = stmt.where(AuditEntry.action.like(prefix + "%", escape="\\"))
            else:
                stmt = stmt.where(AuditEntry.action == self.action)
        if self.target_type or self.target_id:
            stmt = stmt.where(about(self.target_type, self.target_id))
        if self.since:
            stmt = stmt.where(AuditEntry.at >= self.since)
        if self.until:
            stmt = stmt.where(AuditEntry.at < self.until)
        return stmt


MAX_PAGE = 500


def list_entries(
    filters: AuditFilters, limit: int = 50, before_id: int | None = None
) -> tuple[list[AuditEntry], int | None]:
    """Newest first, ``limit`` at a time; the second value is the cursor of the next page
    (keyset: ``id < cursor``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    stmt = filters.apply(select(AuditEntry))
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    rows = list(db.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def about(target_type: str | None, target_id: Any | None) -> ColumnElement[bool]:
    """Rows whose target is this record, or bulk rows that acted on it (either part may be
    None: any)."""
    direct, listed = [], []
    if target_type:
        direct.append(AuditEntry.target_type == target_type)
        listed.append(AuditedRecord.target_type == target_type)
    if target_id is not None and target_id != "":
        direct.append(AuditEntry.target_id == str(target_id))
        listed.append(AuditedRecord.target_id == str(target_id))
    return or_(and_(*direct), AuditEntry.id.in_(select(AuditedRecord.entry_id).where(*listed)))


def entries_for(
    target_type: str, target_id: Any, actions: tuple[str, ...] | None = None, limit: int = 20
) -> list[AuditEntry]:
    """The newest rows about one record (a schedule's edits, who cancelled a job), bulk
    actions that included it among them."""
    stmt = select(AuditEntry).where(about(target_type, target_id))
    if actions:
        stmt = stmt.where(AuditEntry.action.in_(actions))
    return list(db.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def prune(days: int) -> int:
    """Delete audit rows older than ``days`` days (AUDIT_RETENTION_DAYS); returns how many."""
    if days < 0:
        raise BadRequest("days must be zero or more", field="days")
    result = db.session.execute(
        delete(AuditEntry).where(AuditEntry.at < utcnow() - timedelta(days))
    )
    db.session.commit()
    return result.rowcount
