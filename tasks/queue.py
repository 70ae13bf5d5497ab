"""The one Huey instance, its storage chosen from ``QUEUE_URL``, and bulk enqueueing."""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huey import Huey
from huey.api import Task
from huey.storage import MemoryStorage, PriorityRedisStorage, SqliteStorage

# Huey runs higher priorities first; a worker takes high before default before low.
QUEUE_PRIORITIES = {"high": 20, "default": 10, "low": 0}

huey = Huey("jobdeck", storage_class=MemoryStorage, results=False)


def storage_for_url(url: str) -> tuple[type, dict[str, Any]]:
    """The Huey storage class and its arguments for a ``QUEUE_URL``.

    Plain RedisStorage rejects priorities, so Redis always means PriorityRedisStorage.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStorage, {"filename": str(path), "fsync": False, "timeout": 30}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return PriorityRedisStorage, {"url": url}
    if url == "memory://":
        return MemoryStorage, {}
    raise ValueError(f"QUEUE_URL must be sqlite:///path or redis://host:port/db, not {url!r}")


def configure_queue(url: str, immediate: bool = False) -> None:
    """Point the Huey instance at the storage named by ``url``; immediate mode runs tasks inline."""
    storage_class, kwargs = storage_for_url(url)
    huey.storage_class = storage_class
    huey.storage_kwargs = kwargs
    huey._immediate = immediate
    huey.storage = huey.create_storage()


def enqueue_many(tasks: Sequence[Task]) -> None:
    """Put many Huey tasks on the queue in one round trip where the storage allows it."""
    if not tasks:
        return
    storage = huey.storage
    if huey.immediate or not isinstance(storage, SqliteStorage | PriorityRedisStorage):
        for task in tasks:
            huey.enqueue(task)
        return
    if isinstance(storage, SqliteStorage):
        rows = [
            (storage.name, storage.to_blob(huey.serialize_task(t)), t.priority or 0) for t in tasks
        ]
        with storage.db(commit=True) as cursor:
            cursor.executemany("insert into task (queue, data, priority) values (?, ?, ?)", rows)
        return
    # PriorityRedisStorage keeps a sorted set scored by -priority; members are prefixed with a
    # microsecond timestamp for FIFO order, which we keep increasing across the batch.
    base = int(time.time() * 1e6)
    members = {
        struct.pack(">Q", base + i) + huey.serialize_task(t): -(t.priority or 0)
        for i, t in enumerate(tasks)
    }
    pipe = storage.conn.pipeline(transaction=False)
    items = list(members.items())
    for start in range(0, len(items), 5000):
        pipe.zadd(storage.queue_key, dict(items[start : start + 5000]))
    pipe.execute()
