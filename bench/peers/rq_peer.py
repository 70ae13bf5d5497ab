"""RQ as its users run it: the job hash it keeps in Redis for every job (status, times, worker,
result for 500 s), one ``rq worker-pool`` of 2 workers, forking (the default Worker: a work
horse per job) or not (SimpleWorker)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from rq import Queue

from bench.peers import stores
from bench.peers.noop import noop

WORKER_CLASSES = {"fork": "rq.worker.Worker", "simple": "rq.worker.SimpleWorker"}


def queue() -> Queue:
    """The queue the workers take from."""
    return Queue("default", connection=Redis.from_url(stores.REDIS_URL))


def reset() -> Callable[[], int]:
    """Empty the Redis database; count the jobs in the finished registry (which RQ updates in
    the same transaction as the job hash's status)."""
    stores.fresh_redis()
    registry = queue().finished_job_registry
    return lambda: registry.count


def enqueue(n: int) -> None:
    """Queue ``n`` no-op jobs."""
    jobs = queue()
    for start in range(0, n, 1000):
        jobs.enqueue_many([Queue.prepare_data(noop) for _ in range(min(1000, n - start))])


def worker_command(variant: str) -> list[str]:
    """A pool of 2 workers of the variant's class (``fork`` or ``simple``)."""
    rq = str(Path(sys.executable).with_name("rq"))
    return [
        rq,
        "worker-pool",
        "--url",
        stores.REDIS_URL,
        "--worker-class",
        WORKER_CLASSES[variant],
        "--num-workers",
        "2",
        "--quiet",
        "default",
    ]
