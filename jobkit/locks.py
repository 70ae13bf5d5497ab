"""Named locks with an expiry, in the database: correct across consumers on many machines, and
freed by time when their holder dies (Huey's own locks are not, on SQLite or Redis 7.0)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import Lock

table = Lock.__table__


def acquire(name: str, holder: str, ttl_seconds: float) -> bool:
    """Take the lock ``name`` for ``ttl_seconds`` unless someone else holds it unexpired."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    with db.engine.begin() as conn:
        taken = conn.execute(
            update(table)
            .where(table.c.name == name)
            .where((table.c.expires_at < now) | (table.c.holder == holder))
            .values(holder=holder, expires_at=expires)
        ).rowcount
    if taken:
        return True
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(table).values(name=name, holder=holder, expires_at=expires))
        return True
    except IntegrityError:
        return False


def release(name: str, holder: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.name == name, table.c.holder == holder))


def first_this_minute(name: str, holder: str) -> bool:
    """True for exactly one caller per ``name`` and minute: every consumer runs Huey's periodic
    tasks, and only one of them should act on each tick."""
    now = utcnow()
    try:
        with db.engine.begin() as conn:
            conn.execute(
                insert(table).values(
                    name=f"tick:{name}:{now:%Y%m%d%H%M}",
                    holder=holder,
                    expires_at=now + timedelta(hours=1),
                )
            )
        return True
    except IntegrityError:
        return False


def delete_expired() -> int:
    with db.engine.begin() as conn:
        return conn.execute(delete(table).where(table.c.expires_at < utcnow())).rowcount
