"""Drain figures: tracked against bare Huey (both ways), drains by consumers, and latency."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.common import (
    backend_urls,
    consumers_running,
    drain,
    drain_rate,
    figure,
    fresh_app,
    scaled,
    start_consumer,
)

FRESH_ROUNDS = int(os.environ.get("BENCH_FRESH_ROUNDS", 5))


def tracked_vs_bare(workdir: Path, backend: str, label: str, rounds: int = 7) -> dict:
    """Tracked against bare no-ops, measured both ways.

    Alternating: one consumer drains bare and tracked no-ops in turn, ``rounds`` times each,
    after a warm-up of both; the ratio of the medians (same process, same machine state; a
    single drain's rate still moves by several per cent, so the rounds' ratios are reported
    too). Fresh: a new consumer on an empty database for each drain of 10,000 (as a user
    starts one), bare and tracked in turn, ``FRESH_ROUNDS`` times each.
    """
    import statistics

    n = scaled(int(os.environ.get("BENCH_TRACKED_N", 20_000)))
    bares, trackeds = [], []
    with consumers_running(workdir, backend):
        drain(500, False)
        drain(500, True)
        for round_ in range(rounds):
            order = (False, True) if round_ % 2 == 0 else (True, False)
            for tracked in order:
                (trackeds if tracked else bares).append(drain(n, tracked))
    bare, tracked = statistics.median(bares), statistics.median(trackeds)
    ratio = tracked / bare
    ratios = sorted(t / b for t, b in zip(trackeds, bares, strict=True))
    fresh_bares, fresh_trackeds = [], []
    for round_ in range(FRESH_ROUNDS):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        for is_tracked in order:
            rate = drain_rate(workdir, is_tracked, scaled(10_000), backend)
            (fresh_trackeds if is_tracked else fresh_bares).append(rate)
    fresh_bare, fresh_tracked = statistics.median(fresh_bares), statistics.median(fresh_trackeds)
    fresh_ratio = fresh_tracked / fresh_bare
    return {
        "bare_per_s": round(bare),
        "tracked_per_s": round(tracked),
        "ratio": round(ratio, 3),
        "ratios_per_round": [round(r, 3) for r in ratios],
        "fresh": {
            "bare_per_s": round(fresh_bare),
            "tracked_per_s": round(fresh_tracked),
            "ratio": round(fresh_ratio, 3),
            "rounds": FRESH_ROUNDS,
        },
        "line": f"tracked vs bare, {label}: {tracked:,.0f} vs {bare:,.0f} tasks/s = {ratio:.2f}x "
        f"(median of {rounds} rounds in one consumer; rounds {ratios[0]:.2f}-{ratios[-1]:.2f}); "
        f"fresh consumer per drain: {fresh_tracked:,.0f} vs {fresh_bare:,.0f} = "
        f"{fresh_ratio:.2f}x (median of {FRESH_ROUNDS})",
    }


@figure
def tracked_vs_bare_sqlite(workdir: Path) -> dict:
    """The same no-op tasks drained by the same consumer, with and without job tracking."""
    return tracked_vs_bare(workdir, "sqlite", "SQLite")


@figure
def tracked_vs_bare_redis_pg(workdir: Path) -> dict:
    """As tracked_vs_bare_sqlite, on Redis (queue) and PostgreSQL (job logs)."""
    return tracked_vs_bare(workdir, "redis_pg", "Redis + PostgreSQL")


def drain_by_consumers(workdir: Path, backend: str, label: str) -> dict:
    rates = {str(c): round(drain_rate(workdir, True, 4000, backend, c)) for c in (1, 2, 4)}
    per = ", ".join(f"{c}: {rate:,}/s" for c, rate in rates.items())
    return {"jobs_per_s": rates, "line": f"drain tracked no-ops, {label}, by consumers: {per}"}


@figure
def drain_sqlite(workdir: Path) -> dict:
    """Tracked no-op jobs drained by 1, 2 and 4 consumers on SQLite."""
    return drain_by_consumers(workdir, "sqlite", "SQLite")


@figure
def drain_redis_pg(workdir: Path) -> dict:
    """Tracked no-op jobs drained by 1, 2 and 4 consumers on Redis + PostgreSQL."""
    return drain_by_consumers(workdir, "redis_pg", "Redis + PostgreSQL")


def latencies(workdir: Path, backend: str, samples: int = 200) -> dict:
    """Enqueue-to-start times of tracked no-ops sent one at a time to an idle consumer."""
    import signal
    import statistics

    from sqlalchemy import select

    from tasks.samples import noop
    from webapp.extensions import db
    from webapp.models.jobs import JobLog

    database_url, queue_url = backend_urls(workdir, backend)
    app = fresh_app(workdir, database_url, queue_url)
    with app.app_context():
        process = start_consumer(workdir, database_url, queue_url)
        try:
            time.sleep(4)
            ids = []
            for _ in range(samples):
                ids.append(noop.dispatch())
                time.sleep(0.05)  # lightly loaded: the consumer is idle when each arrives
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                db.session.rollback()
                rows = db.session.scalars(select(JobLog).where(JobLog.id.in_(ids))).all()
                if all(row.started_at for row in rows):
                    break
                time.sleep(0.1)
            waits = sorted((row.started_at - row.created_at).total_seconds() * 1000 for row in rows)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
            db.session.remove()
            db.engine.dispose()
    return {
        "p50_ms": round(statistics.median(waits), 1),
        "p95_ms": round(waits[int(len(waits) * 0.95) - 1], 1),
    }


@figure
def latency(workdir: Path) -> dict:
    """Enqueue-to-start latency, median and p95, on a lightly loaded consumer."""
    figures = {backend: latencies(workdir, backend) for backend in ("sqlite", "redis_pg")}
    sqlite, redis_pg = figures["sqlite"], figures["redis_pg"]
    return {
        **figures,
        "line": f"enqueue-to-start latency: SQLite p50 {sqlite['p50_ms']} ms, "
        f"p95 {sqlite['p95_ms']} ms; Redis + PostgreSQL p50 {redis_pg['p50_ms']} ms, "
        f"p95 {redis_pg['p95_ms']} ms",
    }
