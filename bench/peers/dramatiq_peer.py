"""Dramatiq as its users run it: a Redis broker, no tracking (a message is in Redis until a
worker acknowledges it, then gone), one process with 2 worker threads."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.peers import stores

broker = RedisBroker(url=stores.REDIS_URL)
dramatiq.set_broker(broker)
# Every message waits in this hash until it is acknowledged, queued or being worked on.
MESSAGES = "dramatiq:default.msgs"
sent = 0


@dramatiq.actor(queue_name="default")
def noop() -> None:
    """Do nothing."""


def reset() -> Callable[[], int]:
    """Empty the Redis database; count the messages sent and acknowledged since."""
    redis = stores.fresh_redis()
    return lambda: sent - redis.hlen(MESSAGES)


def enqueue(n: int) -> None:
    """Queue ``n`` no-op jobs."""
    global sent
    for _ in range(n):
        noop.send()
    sent += n


def worker_command(variant: str) -> list[str]:
    """One worker process with 2 threads."""
    dramatiq_cli = str(Path(sys.executable).with_name("dramatiq"))
    return [dramatiq_cli, __name__, "--processes", "1", "--threads", "2"]
