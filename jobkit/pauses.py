"""Pausing a queue or a task type: its jobs wait, neither running nor failing, until resumed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from jobkit import registry
from webapp.exceptions import NotFound
from webapp.extensions import db
from webapp.models.jobs import QUEUES, Pause

KINDS = ("queue", "task")
CACHE_SECONDS = 2.0

_cache_lock = threading.Lock()
# Per database (a process may serve more than one app, as tests do): when read, and the pauses.
_cache: tuple[object, float, set[tuple[str, str]]] = (None, 0.0, set())

# Called as listener(action, kind, name), action "pause" or "resume", inside the transaction
# that makes the change: the app records who did it without this framework knowing how.
change_listeners: list[Callable[[str, str, str], None]] = []


class PauseError(NotFound):
    """An unknown queue or kind."""


def _check(kind: str, name: str) -> None:
    if kind not in KINDS:
        raise PauseError(f"unknown kind {kind!r}; use queue or task")
    if kind == "queue" and name not in QUEUES:
        raise PauseError(f"unknown queue {name!r}; use one of {', '.join(QUEUES)}")
    if kind == "task" and registry.task_named(name) is None:
        raise PauseError(f"unknown task {name!r}")


def pause(kind: str, name: str, user_id: int | None = None) -> bool:
    """Pause it; False when it already was."""
    _check(kind, name)
    if db.session.get(Pause, (kind, name)) is not None:
        return False
    db.session.add(Pause(kind=kind, name=name, paused_by=user_id))
    for listener in change_listeners:
        listener("pause", kind, name)
    db.session.commit()
    _forget()
    return True


def resume(kind: str, name: str) -> bool:
    """Resume it; False when it was not paused."""
    _check(kind, name)
    result = db.session.execute(delete(Pause).where(Pause.kind == kind, Pause.name == name))
    if result.rowcount:
        for listener in change_listeners:
            listener("resume", kind, name)
    db.session.commit()
    _forget()
    return bool(result.rowcount)


def paused() -> list[Pause]:
    return list(db.session.scalars(select(Pause).order_by(Pause.kind, Pause.name)))


def _forget() -> None:
    global _cache
    with _cache_lock:
        _cache = (None, 0.0, set())


def is_paused(queue: str, task: str, engine: Engine | None = None) -> str | None:
    """Why a job of ``task`` on ``queue`` must wait now, or None. Read at most every 2 s from
    ``engine``'s database (the app's when None)."""
    global _cache
    now = time.monotonic()
    if engine is None:
        engine = db.engine
    cached_for, fetched_at, entries = _cache  # one tuple, replaced whole: readable unlocked
    if cached_for is not engine or now - fetched_at > CACHE_SECONDS:
        entries = {(p.kind, p.name) for p in db.session.scalars(select(Pause))}
        with _cache_lock:
            _cache = (engine, now, entries)
    if ("queue", queue) in entries:
        return f"the {queue} queue is paused"
    if ("task", task) in entries:
        return f"the task {task} is paused"
    return None
