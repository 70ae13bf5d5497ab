"""The retention figure: prune 10 million finished job logs older than N days, as a user runs
it (``flask jobs prune --days N`` in a process of its own), while pages are read, and what the
database's size does over seed → prune → refill. Not part of CI (minutes of seeding)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from bench.big import seed_job_logs
from bench.common import backend_urls, figure, fresh_app, scaled
from bench.pages import timed

HERE = Path(__file__).resolve().parents[1]
DAYS = 35  # the prune keeps 35 days; the old rows are 40 to 70 days old


def _size_mb(engine, path: Path | None) -> float:
    if path is not None:  # SQLite: the file (and its WAL, checkpointed into it first)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return round(path.stat().st_size / 1e6, 1)
    with engine.connect() as conn:
        return round(conn.scalar(text("SELECT pg_database_size(current_database())")) / 1e6, 1)


def _pages_during(app, stop: threading.Event, out: dict) -> None:
    """Read /jobs and /api/job-logs over and over until ``stop``; their latencies in ms."""
    from webapp.services.users import create_user, issue_token

    with app.app_context():
        token = issue_token(create_user("bench@example.com", "bench-password", "viewer"))
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
        api = {"Authorization": f"Bearer {token}"}
        out["before"] = {
            "jobs": timed(client, "/jobs", {}),
            "api": timed(client, "/api/job-logs?limit=50", api),
        }
        out["ready"].set()
        times: dict[str, list[float]] = {"jobs": [], "api": []}
        while not stop.is_set():
            for name, url, headers in (("jobs", "/jobs", {}), ("api", "/api/job-logs", api)):
                start = time.perf_counter()
                response = client.get(url, headers=headers)
                times[name].append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            time.sleep(0.02)
        out["during"] = {
            name: {"n": len(v), "p95_ms": round(sorted(v)[int(len(v) * 0.95) - 1], 1)}
            for name, v in times.items()
            if v
        }


def _prune_run(workdir: Path, backend: str, old: int, recent: int) -> dict:
    from webapp.extensions import db
    from webapp.models.base import utcnow

    database_url, queue_url = backend_urls(workdir, backend)
    app = fresh_app(workdir, database_url, queue_url)
    sqlite_file = Path(database_url.removeprefix("sqlite:///")) if backend == "sqlite" else None
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "QUEUE_URL": queue_url,
        "JOBDECK_INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": "bench",
    }
    with app.app_context():
        engine, now = db.engine, utcnow()
        sizes = {"empty": _size_mb(engine, sqlite_file)}
        start = time.perf_counter()
        seed_job_logs(engine, old, days=30, now=now - timedelta(days=40))
        seed_seconds = time.perf_counter() - start
        seed_job_logs(engine, recent, days=5, now=now)
        sizes["seeded"] = _size_mb(engine, sqlite_file)
        pages: dict = {"ready": threading.Event()}
        stop = threading.Event()
        reader = threading.Thread(target=_pages_during, args=(app, stop, pages))
        reader.start()
        pages["ready"].wait()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "prune", "--days", str(DAYS)],
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        stop.set()
        reader.join()
        assert f"Deleted {old} " in done.stdout, done.stdout
        sizes["pruned"] = _size_mb(engine, sqlite_file)
        seed_job_logs(engine, old, days=30, now=now - timedelta(days=40))
        sizes["refilled"] = _size_mb(engine, sqlite_file)
        left = db.session.scalar(text("SELECT count(*) FROM job_logs"))
        assert left == recent + old, left
        db.session.remove()
        engine.dispose()
    return {
        "rows_pruned": old,
        "rows_kept": recent,
        "seconds": round(seconds, 1),
        "cpu_seconds_prune_process": round(
            cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
            2,
        ),
        "rows_per_s": round(old / seconds),
        "seed_seconds": round(seed_seconds, 1),
        "size_mb": sizes,
        "pages_before": pages["before"],
        "pages_during": pages.get("during", {}),
    }


@figure
def prune_10m_job_logs(workdir: Path) -> dict:
    """Prune 10,000,000 finished job logs older than 35 days out of 10,100,000 on PostgreSQL,
    while /jobs and /api/job-logs are read; and 1,000,000 on SQLite for the file's size."""
    results = {
        "redis_pg": _prune_run(workdir, "redis_pg", scaled(10_000_000), scaled(100_000)),
        "sqlite": _prune_run(workdir, "sqlite", scaled(1_000_000), scaled(10_000)),
    }
    parts = []
    for backend, r in results.items():
        during = ", ".join(f"{k} p95 {v['p95_ms']} ms" for k, v in r["pages_during"].items())
        s = r["size_mb"]
        parts.append(
            f"{backend}: {r['rows_pruned']:,} pruned in {r['seconds']} s "
            f"({r['cpu_seconds_prune_process']} CPU s), pages during: {during}; size MB "
            f"empty {s['empty']} → seeded {s['seeded']} → pruned {s['pruned']} "
            f"→ refilled {s['refilled']}"
        )
    return {**results, "seconds": results["redis_pg"]["seconds"], "line": "; ".join(parts)}
