"""A worker thread in every consumer kept for work that must not wait behind user jobs.

Huey's periodic tasks (the scheduler tick, the integration check, the daily prune, export
expiry) are enqueued at PERIODIC_PRIORITY, above every queue, and the jobs they start that
must not wait (the integration check's job, the prune) and "Run now" go to the ``high`` queue.
A consumer's ``--workers`` take any task, highest priority first; its one extra, reserved worker
takes only tasks of URGENT_PRIORITY or more (periodic tasks and ``high`` jobs), so a consumer
whose workers are all busy with long jobs still ticks on time and still runs "Run now" at once.
The lost-worker check does not need it: it runs in the consumer's upkeep thread.

``high`` is therefore for short work: a long ``high`` job occupies the reserved worker too.
"""

from __future__ import annotations

import logging
from typing import Any

from huey.consumer import Consumer, Worker
from huey.storage import PriorityRedisStorage, SqliteStorage

from jobkit.prefetch import PrefetchingRedisStorage
from jobkit.queue import QUEUE_PRIORITIES, huey
from jobkit.tracking import CONSUMER_ID

log = logging.getLogger(__name__)

URGENT_PRIORITY = QUEUE_PRIORITIES["high"]
PERIODIC_PRIORITY = URGENT_PRIORITY + 10
# The reserved worker polls an idle queue less eagerly than the others: its work is rare and
# a quarter of a second is soon enough for it.
RESERVED_MAX_DELAY = 0.25

# Take the first task scored -URGENT_PRIORITY or lower (Huey scores -priority) atomically.
_TAKE_URGENT_LUA = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #items == 0 then return false end
redis.call('ZREM', KEYS[1], items[1])
return items[1]
"""


def periodic_task(schedule: Any):
    """Huey's ``periodic_task`` at PERIODIC_PRIORITY, which the reserved worker takes."""
    return huey.periodic_task(schedule, priority=PERIODIC_PRIORITY)


def take_urgent() -> bytes | None:
    """Remove and return the first waiting task of URGENT_PRIORITY or more, or None."""
    storage = huey.storage
    if isinstance(storage, SqliteStorage):
        # Found missing with a read: a write would take the queue's write lock at every poll.
        # The connection autocommits, and the DELETE … RETURNING is atomic on its own.
        wanted = (storage.name, URGENT_PRIORITY)
        if not storage.sql(
            "select 1 from task where queue = ? and priority >= ? limit 1", wanted, results=True
        ):
            return None
        rows = storage.sql(
            "delete from task where id = (select id from task where queue = ? and priority >= ? "
            "order by priority desc, id limit 1) returning data",
            wanted,
            results=True,
        )
        return rows[0][0] if rows else None
    if isinstance(storage, PriorityRedisStorage):
        script = getattr(storage, "_jobdeck_take_urgent", None)
        if script is None:
            script = storage._jobdeck_take_urgent = storage.conn.register_script(_TAKE_URGENT_LUA)
        data = script(keys=[storage.queue_key], args=[-URGENT_PRIORITY])
        return data[8:] if data else None  # members start with an 8-byte timestamp
    raise TypeError(f"no reserved worker for {type(storage).__name__}")


class ReservedWorker(Worker):
    """A Huey worker that takes only periodic tasks and ``high`` jobs."""

    process_name = "ReservedWorker"

    def loop(self, now: Any = None) -> None:
        try:
            data = take_urgent()
        except Exception:
            self._logger.exception("Error reading from queue")
            self.sleep()
            return
        if data is None:
            self.sleep()
            return
        self.delay = self.default_delay
        task = self.huey.deserialize_task(data)
        try:
            self.huey.execute(task, now)
        except Exception:
            self._logger.exception("Unhandled error during execution of task %s.", task.id)


class ConsumerWithReservedWorker(Consumer):
    """Huey's consumer with one ReservedWorker beside its ``workers``; on Redis its workers take
    tasks a few at a time (jobkit.prefetch), and what they took and did not start goes back to
    the queue when it stops."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker_threads.append(self._reserved())
        if isinstance(self.huey.storage, PrefetchingRedisStorage):
            self.huey.storage.start_prefetching(CONSUMER_ID)

    def stop(self, graceful: bool = False) -> None:
        """Huey's stop; then the tasks taken and not started go back to the queue."""
        super().stop(graceful)
        if isinstance(self.huey.storage, PrefetchingRedisStorage):
            returned = self.huey.storage.give_back()
            if returned:
                log.info("Put %d taken task(s) back in the queue.", returned)

    def _reserved(self) -> tuple[ReservedWorker, Any]:
        worker = ReservedWorker(
            huey=self.huey,
            stop_flag=self.stop_flag,
            default_delay=self.default_delay,
            max_delay=max(self.max_delay, RESERVED_MAX_DELAY),
            backoff=self.backoff,
        )
        return worker, self._create_process(worker, "Worker-reserved")

    def check_worker_health(self) -> bool:
        """Huey's check, with a dead reserved worker replaced by a reserved one."""
        reserved = self.worker_threads.pop()
        healthy = super().check_worker_health()
        if not self.environment.is_alive(reserved[1]):
            log.warning("The reserved worker died, restarting.")
            reserved = self._reserved()
            reserved[1].start()
            healthy = False
        self.worker_threads.append(reserved)
        return healthy
