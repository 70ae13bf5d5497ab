"""The tracked tasks this process knows, by name: filled as task modules are imported."""

from __future__ import annotations

from typing import Any

_tasks: dict[str, Any] = {}


def register(name: str, task: Any) -> None:
    """Make ``task`` known as ``name`` (the last definition of a name wins, as in Huey)."""
    _tasks[name] = task


def task_named(name: str) -> Any | None:
    """The registered tracked task called ``name``, or None."""
    return _tasks.get(name)


def registered_tasks() -> list[str]:
    """The names of every registered tracked task, sorted."""
    return sorted(_tasks)
