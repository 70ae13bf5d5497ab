"""Procrastinate as its users run it: PostgreSQL holds the queue and the tracking (a job row,
and an event row per state change), one worker with concurrency 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import procrastinate

from bench.peers import stores

URL = stores.database_url("procrastinate")
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=URL))


@app.task(name="noop")
def noop() -> None:
    """Do nothing (a plain function, as for every system here; the worker runs it in a thread)."""


def reset() -> Callable[[], int]:
    """A new database with Procrastinate's schema; count the succeeded job rows."""
    stores.fresh_database("procrastinate")
    with app.open():
        app.schema_manager.apply_schema()
    return stores.Count(URL, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")


def enqueue(n: int) -> None:
    """Queue ``n`` no-op jobs."""
    with app.open():
        for start in range(0, n, 1000):
            noop.batch_defer(*({} for _ in range(min(1000, n - start))))


def worker_command(variant: str) -> list[str]:
    """One worker running 2 jobs at a time."""
    procrastinate_cli = str(Path(sys.executable).with_name("procrastinate"))
    return [
        procrastinate_cli,
        "--app",
        f"{__name__}.app",
        "--log-level",
        "warning",
        "worker",
        "--concurrency",
        "2",
    ]
