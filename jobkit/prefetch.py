"""Redis storage whose consumer takes several tasks in one round trip.

Bare Huey on Redis makes three round trips per task: the pop, a read of the task's revoke flags
and a delete of them after it ran. Here a consumer's workers share a small buffer that one Lua
call fills (up to PREFETCH_MAX tasks, highest priority first), and that call also says whether any
flag exists at all (Jobdeck sets one only to cancel a pending job), so the flag read and delete
are skipped for tasks handed out within FLAGS_TRUSTED_SECONDS of a fill that found none: a
pending job cancelled in those 20 ms before it starts may still run (without the buffer the
window is the time between the pop and the flag read). An empty queue is waited on with
a blocking pop (flags counted in the same round trip), so a new job starts at once.

The buffer holds only about PREFETCH_SECONDS of work (sized by how fast the last one went), so
long jobs are taken one at a time, as before, and a job of a higher priority waits behind a few
milliseconds of work at most. Pauses hold: they are checked when a job starts, not when taken.
What a consumer has taken is also kept in Redis (``<queue>.taken.<consumer id>``) until its
next fill: a clean stop puts the buffer back in the queue, and the consumers' upkeep puts back
(or fails) what a killed consumer had taken and not started (``tasks.upkeep``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from huey.storage import PriorityRedisStorage

PREFETCH_MAX = 32
PREFETCH_SECONDS = 0.01
FLAGS_TRUSTED_SECONDS = 0.02

# KEYS: queue, taken, flags; ARGV: how many. Replaces the taken set with what it pops.
_TAKE_LUA = """
local items = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if #items > 0 then
  local pairs = {}
  for i = 1, #items, 2 do
    pairs[#pairs + 1] = items[i + 1]
    pairs[#pairs + 1] = items[i]
  end
  redis.call('ZADD', KEYS[2], unpack(pairs))
end
return {redis.call('HLEN', KEYS[3]), items}
"""

# KEYS: queue, taken; ARGV: score, member, … to put back (their first places, by score and
# timestamp prefix), then the taken set is forgotten.
_GIVE_BACK_LUA = """
for i = 1, #ARGV, 1000 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('DEL', KEYS[2])
return #ARGV / 2
"""


def _is_flag(key: str) -> bool:
    """A revoke flag: ``r:<task id>`` or ``rt:<task name>`` (huey.api)."""
    return key.startswith(("r:", "rt:"))


class PrefetchingRedisStorage(PriorityRedisStorage):
    """PriorityRedisStorage that, once ``start_prefetching`` is called (by the consumer), hands
    its workers tasks from a buffer filled several at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._buffer: deque[tuple[bytes, bytes]] = deque()  # (member, score)
        self._taken_key: str | None = None
        self._stopped = False
        self._size = 1
        self._filled_at = 0.0
        self._filled_with = 0
        self._no_flags = False  # the last fill found no revoke flag (nor any other key)
        self._local = threading.local()  # per worker: its task came with "no flags"
        self._take = self.conn.register_script(_TAKE_LUA)
        self._give_back = self.conn.register_script(_GIVE_BACK_LUA)

    def taken_key(self, consumer_id: str) -> str:
        return f"{self.queue_key}.taken.{consumer_id}"

    def start_prefetching(self, consumer_id: str) -> None:
        """From now on this process's dequeues go through a buffer taken as ``consumer_id``."""
        self._taken_key = self.taken_key(consumer_id)
        self._stopped = False

    def dequeue(self) -> bytes | None:
        if self._taken_key is None:
            return super().dequeue()
        with self._lock:
            if not self._buffer and not self._stopped:
                self._fill()
            if self._buffer:
                # a flag set since the fill (a pending job cancelled) is missed for 20 ms at most
                fresh = time.monotonic() - self._filled_at < FLAGS_TRUSTED_SECONDS
                self._local.no_flags = self._no_flags and fresh
                return self._buffer.popleft()[0][8:]  # members start with an 8-byte timestamp
            if self._stopped:
                return None
        # Nothing waiting: block until something is; the flags are counted right after the pop
        # (the server runs the pipeline in order), in the same round trip.
        pipe = self.conn.pipeline(transaction=False)
        pipe.bzpopmin(self.queue_key, timeout=self.read_timeout)
        pipe.hlen(self.result_key)
        popped, flags = pipe.execute()
        self._local.no_flags = not flags
        return popped[1][8:] if popped else None

    def _fill(self) -> None:
        now = time.monotonic()
        if self._filled_with:
            # as many as the workers got through in PREFETCH_SECONDS, judging by the last fill
            rate = self._filled_with / max(now - self._filled_at, 1e-6)
            self._size = max(1, min(PREFETCH_MAX, int(rate * PREFETCH_SECONDS)))
        flags, items = self._take(
            keys=[self.queue_key, self._taken_key, self.result_key], args=[self._size]
        )
        self._buffer.extend(zip(items[::2], items[1::2], strict=True))
        self._filled_at, self._filled_with = now, len(items) // 2
        if not items:  # after a wait, the next fill starts from one again
            self._size = 1
        self._no_flags = not flags

    def give_back(self) -> int:
        """Put the tasks taken and not handed out back in the queue; no more are taken."""
        with self._lock:
            self._stopped = True
            if self._taken_key is None:
                return 0
            pairs = [value for member, score in self._buffer for value in (score, member)]
            self._buffer.clear()
            return self._give_back(keys=[self.queue_key, self._taken_key], args=pairs)

    # -- what consumers that are gone had taken ---------------------------------------------------

    def takers(self) -> list[str]:
        """The consumer ids that have a taken set."""
        prefix = self.taken_key("")
        return [
            key.decode().removeprefix(prefix)
            for key in self.conn.scan_iter(match=f"{prefix}*", count=1000)
        ]

    def taken_by(self, consumer_id: str) -> Iterator[tuple[bytes, float]]:
        """(task data, score) of what ``consumer_id`` took at its last fill, in queue order."""
        yield from self.conn.zrange(self.taken_key(consumer_id), 0, -1, withscores=True)

    def put_back(self, consumer_id: str, members: list[tuple[bytes, float]]) -> int:
        """Put these of ``consumer_id``'s taken tasks back where they were; forget the rest."""
        pairs = [value for member, score in members for value in (score, member)]
        return self._give_back(keys=[self.queue_key, self.taken_key(consumer_id)], args=pairs)

    # -- revoke flags: skipped when the fill found none --------------------------------------------

    def peek_many(self, keys: list[str]) -> dict:
        if getattr(self._local, "no_flags", False) and all(_is_flag(k) for k in keys):
            return {}
        return super().peek_many(keys)

    def delete_data(self, key: str) -> bool:
        if getattr(self._local, "no_flags", False) and _is_flag(key):
            return False
        return super().delete_data(key)

    def put_data(self, key: str, value: Any, is_result: bool = False) -> None:
        self._no_flags = self._local.no_flags = False
        super().put_data(key, value, is_result)

    def put_if_empty(self, key: str, value: Any, ttl: Any = None) -> bool:
        self._no_flags = self._local.no_flags = False
        return super().put_if_empty(key, value, ttl)
