"""The peer comparison, `make bench-peers`: the same no-op jobs drained by Jobdeck and by the
job queues a Python team would pick instead, in one run, as one table of rates and ratios.

Jobdeck's side runs in Jobdeck's venv through the drain code of ``bench.common``; each peer runs
in ``.venv-peers`` (``bench/peers/requirements.txt``) through ``bench.peers.run`` and one small
module per peer. Every drain is a process of its own with a fresh worker on emptied stores, one
worker process with 2-way concurrency, all jobs queued before the clock starts; the clock stops
when every job's tracking record says it succeeded (Dramatiq and bare Huey, which keep none:
when the queue is empty and, for Dramatiq, every message was acknowledged).

This module only describes the systems, so that both venvs can import it.
"""

from __future__ import annotations

from dataclasses import dataclass

JOB_LOG = "job-log row: status, times, attempts, payload, worker, error and traceback"


@dataclass(frozen=True)
class System:
    """One row of the table: how it is run, what it keeps per job, how many jobs a drain."""

    label: str
    tracking: str
    jobs: int
    # "jobdeck" arms run in Jobdeck's venv (bench.peers.jobdeck); others name a module of
    # bench.peers run in the peers' venv, and the variant of its worker.
    module: str
    variant: str


SYSTEMS: dict[str, System] = {
    "jobdeck_sqlite": System(
        "Jobdeck, SQLite (default set-up)", JOB_LOG, 10_000, "jobdeck", "sqlite"
    ),
    "jobdeck_redis_pg": System(
        "Jobdeck, Redis + PostgreSQL", f"{JOB_LOG}, in PostgreSQL", 10_000, "jobdeck", "redis_pg"
    ),
    "huey_redis": System("bare Huey 3.5.4, Redis", "none", 10_000, "jobdeck", "huey_redis"),
    "dramatiq": System(
        "Dramatiq 2.2.1, Redis, 1 process × 2 threads", "none", 5_000, "dramatiq_peer", "default"
    ),
    "rq_simple": System(
        "RQ 2.12.0, worker-pool of 2 SimpleWorkers (no fork)",
        "a Redis hash per job (deleted 500 s after success)",
        4_000,
        "rq_peer",
        "simple",
    ),
    "procrastinate": System(
        "Procrastinate 3.10.0, PostgreSQL, concurrency 2",
        "a job row + an event row per state",
        4_000,
        "procrastinate_peer",
        "default",
    ),
    "celery_prefork": System(
        "Celery 5.7.0, prefork -c 2, Redis broker + PostgreSQL result backend, task_track_started",
        "a result row: status, result, date done, traceback",
        2_000,
        "celery_peer",
        "prefork",
    ),
    "rq_fork": System(
        "RQ 2.12.0, worker-pool of 2 default (forking) Workers",
        "a Redis hash per job (deleted 500 s after success)",
        1_000,
        "rq_peer",
        "fork",
    ),
    "celery_threads": System(
        "Celery 5.7.0, threads -c 2, same backend",
        "a result row: status, result, date done, traceback",
        1_000,
        "celery_peer",
        "threads",
    ),
}
# The rows every other one is compared with.
REFERENCES = ("jobdeck_sqlite", "jobdeck_redis_pg")
