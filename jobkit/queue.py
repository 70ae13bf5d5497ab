"""The one Huey instance, its storage chosen from ``QUEUE_URL``, and bulk enqueueing."""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huey import Huey
from huey.api import Task
from huey.constants import EmptyData
from huey.signals import SIGNAL_REVOKED
from huey.storage import MemoryStorage, PriorityRedisStorage, SqliteStorage

from jobkit.prefetch import PrefetchingRedisStorage

# Huey runs higher priorities first; a worker takes high before default before low.
QUEUE_PRIORITIES = {"high": 20, "default": 10, "low": 0}

huey = Huey("jobdeck", storage_class=MemoryStorage, results=False)


@huey.signal(SIGNAL_REVOKED)
def forget_revoke_flag(signal: str, task: Task, *args: Any) -> None:
    """Remove a cancelled job's revoke flag once Huey has skipped its task (Huey keeps it for
    good): its id is never queued again after a cancel, and on Redis any flag left in place
    sends every later task through the per-task flag read (jobkit.prefetch)."""
    huey.storage.delete_data(task.revoke_id)


class QueueSqliteStorage(SqliteStorage):
    """Huey's SQLite storage with a task taken, and a key removed, in one statement.

    Huey's own dequeue takes the file's write lock for four statements (begin exclusive, select,
    delete, commit) and removes each task's revoke key, usually absent, in three more; the worker
    threads of a consumer share one connection behind one lock, so each extra statement is one
    more wait for it. Here a dequeue is one ``DELETE … RETURNING`` (atomic on its own), and a key
    is only deleted when a read finds it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._found_task = False  # the last dequeue got a task: skip the look before the lock

    def dequeue(self) -> bytes | None:
        # An empty queue is found with a read; a write, even one that deletes nothing, would take
        # the write lock on every poll of every idle consumer.
        if not self._found_task and not self.sql(
            "select 1 from task where queue = ? limit 1", (self.name,), results=True
        ):
            return None
        rows = self.sql(
            "delete from task where id = (select id from task where queue = ? "
            "order by priority desc, id limit 1) returning data",
            (self.name,),
            results=True,
        )
        self._found_task = bool(rows)
        return rows[0][0] if rows else None

    def pop_data(self, key: str) -> Any:
        if not self.has_data_for_key(key):
            return EmptyData
        rows = self.sql(
            "delete from kv where queue = ? and key = ? returning value",
            (self.name, key),
            results=True,
        )
        return rows[0][0] if rows else EmptyData


def storage_for_url(url: str) -> tuple[type, dict[str, Any]]:
    """The Huey storage class and its arguments for a ``QUEUE_URL``.

    Plain RedisStorage rejects priorities, so Redis always means PriorityRedisStorage (with
    jobkit.prefetch's buffer in a consumer).
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return QueueSqliteStorage, {"filename": str(path), "fsync": False, "timeout": 30}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return PrefetchingRedisStorage, {"url": url}
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
