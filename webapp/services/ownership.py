"""Records that belong to a user: only their owner or an admin may see them."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, select

from webapp.extensions import db

T = TypeVar("T")


def owned(model: type[T], record_id: int, user_id: int | None, is_admin: bool) -> T | None:
    """The record, or None when it does not exist or belongs to someone else."""
    record = db.session.get(model, record_id)
    if record is None or (not is_admin and record.user_id != user_id):
        return None
    return record


def owned_list(model: type[T], user_id: int | None, is_admin: bool, limit: int = 50) -> list[T]:
    """The newest records the user may see."""
    stmt = select(model).order_by(model.id.desc()).limit(limit)
    if not is_admin:
        stmt = stmt.where(model.user_id == user_id)
    return list(db.session.scalars(stmt))


def owned_query(model: type[T], user_id: int | None, is_admin: bool) -> Select:
    """Every record of ``model`` the user may see (an admin sees all)."""
    stmt = select(model)
    if not is_admin:
        stmt = stmt.where(model.user_id == user_id)
    return stmt
