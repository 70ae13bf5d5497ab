"""Celery as its users run it with tracking: a Redis broker and a database result backend
(SQLAlchemy, PostgreSQL) with ``task_track_started``, so each job's result row goes STARTED,
then SUCCESS."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from celery import Celery

from bench.peers import stores

RESULTS_URL = stores.database_url("celery")
app = Celery(
    "bench_peers",
    broker=stores.REDIS_URL,
    backend=f"db+{RESULTS_URL.replace('postgresql://', 'postgresql+psycopg://')}",
)
app.conf.update(task_track_started=True, broker_connection_retry_on_startup=True)


@app.task(name="noop")
def noop() -> None:
    """Do nothing."""


def reset() -> Callable[[], int]:
    """Empty the broker and the result database; count the SUCCESS result rows."""
    stores.fresh_redis()
    url = stores.fresh_database("celery")
    return stores.Count(url, "SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'")


def enqueue(n: int) -> None:
    """Queue ``n`` no-op jobs."""
    for _ in range(n):
        noop.delay()


def worker_command(variant: str) -> list[str]:
    """One worker process: ``prefork`` (2 child processes) or ``threads`` (2 threads)."""
    celery = str(Path(sys.executable).with_name("celery"))
    return [celery, "-A", __name__, "worker", "-P", variant, "-c", "2", "-l", "WARNING"]
