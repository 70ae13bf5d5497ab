"""Records that belong to a user: only their owner or an admin may see them.

Job logs follow their owner: a non-admin sees the jobs they started (their imports, exports,
integrations, …) and the jobs nobody owns (the scheduler's, the system's), never another
user's. ``visible_jobs`` is the one place that rule is written.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select, true

from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.users import Role, User

T = TypeVar("T")


def unseen(what: str, verb: str = "open") -> str:
    """What someone who sees only their own records is told when ``what`` is not there for
    them. It may be missing or another user's: the answer is the same 404 either way, so it
    says both and confirms neither (ids are shared in links; whose records exist is not)."""
    return (
        f"{what} does not exist or belongs to another user "
        f"(only its owner and admins can {verb} it)"
    )


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


class Viewer(NamedTuple):
    """Who is looking: a user's id and whether they are an admin (who sees everything)."""

    user_id: int | None
    is_admin: bool


def viewer_of(user: Any) -> Viewer:
    """The viewer for a signed-in user (``current_user``) or a User row."""
    return Viewer(user.id, bool(user.is_admin))


def viewer_for_user_id(user_id: int | None) -> Viewer | None:
    """The viewer for a record's owner, e.g. the user who asked for an export; None (sees
    everything) when there is no such user."""
    user = db.session.get(User, user_id) if user_id is not None else None
    return None if user is None else Viewer(user.id, user.role == Role.ADMIN)


def visible_jobs(viewer: Viewer | None) -> ColumnElement[bool]:
    """The SQL condition for the job logs ``viewer`` may read: all of them for an admin or for
    no viewer (commands, tasks), else their own and those that nobody owns."""
    if viewer is None or viewer.is_admin:
        return true()
    return or_(JobLog.user_id.is_(None), JobLog.user_id == viewer.user_id)


def visible_job_ids(job_ids: list[int], viewer: Viewer | None) -> list[int]:
    """Those of ``job_ids`` that ``viewer`` may see (a bulk action acts on no others)."""
    if not job_ids or viewer is None or viewer.is_admin:
        return job_ids
    return list(
        db.session.scalars(select(JobLog.id).where(JobLog.id.in_(job_ids), visible_jobs(viewer)))
    )
