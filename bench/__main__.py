"""Run the benchmark figures: `python -m bench [FIGURE ...]`."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert

RESULTS = Path(__file__).with_name("results.json")
FIGURES: dict[str, Callable[[Path], dict]] = {}


def figure(func: Callable[[Path], dict]) -> Callable[[Path], dict]:
    FIGURES[func.__name__] = func
    return func


def make_app(workdir: Path, queue_url: str | None = None):
    os.environ["JOBDECK_INSTANCE_PATH"] = str(workdir / "instance")
    from webapp.app import create_app
    from webapp.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}",
            "QUEUE_URL": queue_url or f"sqlite:///{workdir / 'queue.db'}",
            "SECRET_KEY": "bench",
        }
    )
    with app.app_context():
        db.create_all()
    return app


@figure
def import_missing_100k(workdir: Path) -> dict:
    """Find 100,000 never-imported series and dispatch their data jobs (one query, one bulk)."""
    from jobkit import huey
    from tasks.series import dispatch_series_data
    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.series import Series
    from webapp.services.series_work import series_missing_data

    rows = 100_000
    app = make_app(workdir)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                insert(Series.__table__),
                [
                    {"tvmaze_id": i, "upstream_state": "ok", "created_at": utcnow()}
                    for i in range(1, rows + 1)
                ],
            )
        start = time.perf_counter()
        ids = series_missing_data()
        found = time.perf_counter()
        dispatch_series_data(ids)
        elapsed = time.perf_counter() - start
        assert huey.pending_count() == rows
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "find_seconds": round(found - start, 2),
        "rows_per_s": round(rows / elapsed),
        "line": f"import-missing, 100,000 series: {rows / elapsed:,.0f} rows/s "
        f"({elapsed:.1f} s, of which {found - start:.2f} s finding them)",
    }


@figure
def scheduler_tick_10k(workdir: Path) -> dict:
    """One scheduler tick that finds 10,000 active schedules due and dispatches their runs."""
    from jobkit import huey
    from tasks.schedules import tick
    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.schedules import Schedule

    n = 10_000
    app = make_app(workdir)
    with app.app_context():
        now = utcnow().replace(second=0, microsecond=0)
        with db.engine.begin() as conn:
            conn.execute(
                insert(Schedule.__table__),
                [
                    {
                        "name": f"s{i}",
                        "description": "",
                        "command": "jobs prune",
                        "parameters": {"--days": "30"},
                        "cron": "* * * * *",
                        "timezone": "UTC",
                        "queue": "default",
                        "active": True,
                        "without_overlapping": False,
                        "next_run_at": now,
                        "created_at": now,
                    }
                    for i in range(n)
                ],
            )
        start = time.perf_counter()
        dispatched = tick()
        elapsed = time.perf_counter() - start
        assert huey.pending_count() + huey.scheduled_count() == dispatched >= n
    return {
        "schedules": n,
        "runs": dispatched,
        "seconds": round(elapsed, 2),
        "line": f"scheduler tick, 10,000 due schedules: {elapsed:.1f} s "
        f"({dispatched / elapsed:,.0f} runs/s)",
    }


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@figure
def import_100k_rows(workdir: Path) -> dict:
    """Import 100,000 CSV rows of which 10 % are refused, through the series importer."""
    from webapp.services import imports

    rows, bad = 100_000, 0
    path = workdir / "series.csv"
    with open(path, "w") as f:
        f.write("name,tvmaze_id,tvdb_id\n")
        for i in range(1, rows + 1):
            if i % 10 == 0:
                f.write(f"Bad {i},not-a-number,\n")
                bad += 1
            else:
                f.write(f"Show {i},{i},\n")
    app = make_app(workdir)
    with app.app_context():
        before = peak_mb()
        start = time.perf_counter()
        with open(path, "rb") as stream:
            record = imports.store_upload(stream, path.name, "series", None, False)
        record = imports.run_import(record.id)
        elapsed = time.perf_counter() - start
        assert record.failed_rows == bad and record.created_rows == rows - bad
    return {
        "rows": rows,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(rows / elapsed),
        "peak_mb": peak_mb(),
        "peak_mb_before": before,
        "line": f"import 100,000 CSV rows (10 % refused): {rows / elapsed:,.0f} rows/s, "
        f"peak memory {peak_mb()} MB (was {before} MB before)",
    }


@figure
def export_1m_job_logs_csv(workdir: Path) -> dict:
    """Export 1,000,000 job logs to CSV, streamed."""
    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.jobs import JobLog
    from webapp.services import exports

    rows = 1_000_000
    app = make_app(workdir)
    with app.app_context():
        now = utcnow()
        row = {
            "task": "noop",
            "queue": "default",
            "status": "completed",
            "progress": 100,
            "attempts": 1,
            "max_attempts": 1,
            "arguments": {},
            "payload": {},
            "message": "=done",
            "created_at": now,
            "started_at": now,
            "finished_at": now,
        }
        with db.engine.begin() as conn:
            for _ in range(rows // 50_000):
                conn.execute(insert(JobLog.__table__), [row] * 50_000)
        before = peak_mb()
        start = time.perf_counter()
        export = exports.start_export("job_logs", "csv", {}, None)
        export = exports.write_export(export.id)
        elapsed = time.perf_counter() - start
        assert export.rows == rows
    return {
        "rows": rows,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(rows / elapsed),
        "peak_mb": peak_mb(),
        "peak_mb_before": before,
        "line": f"export 1,000,000 job logs to CSV: {rows / elapsed:,.0f} rows/s, "
        f"peak memory {peak_mb()} MB (was {before} MB before)",
    }


# Redis + PostgreSQL figures use these (the machine's services by default); the benchmark
# works in a database of its own, created when missing, so it never touches the test database.
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def bench_pg_url() -> str:
    """A database of the benchmark's own next to PG_URL's, created if missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'jobdeck_bench'")):
            conn.execute(text('CREATE DATABASE "jobdeck_bench"'))
    admin.dispose()
    return make_url(PG_URL).set(database="jobdeck_bench").render_as_string(hide_password=False)


def backend_urls(workdir: Path, backend: str) -> tuple[str, str]:
    """(database URL, queue URL) for "sqlite" or "redis_pg"."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'db.db'}", f"sqlite:///{workdir / 'q.db'}"
    return bench_pg_url(), REDIS_URL


def start_consumer(workdir: Path, database_url: str, queue_url: str, workers: int = 2):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "QUEUE_URL": queue_url,
        "JOBDECK_INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": "bench",
    }
    log = open(workdir / "consumer.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "queue",
            "work",
            "--workers",
            str(workers),
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def fresh_app(workdir: Path, database_url: str, queue_url: str):
    """An app on an empty database and an empty queue."""
    os.environ["JOBDECK_INSTANCE_PATH"] = str(workdir / "instance")
    from jobkit import huey
    from webapp.app import create_app
    from webapp.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "QUEUE_URL": queue_url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        if database_url.startswith("postgresql"):
            from tests.conftest import reset_postgres

            reset_postgres(database_url)
        else:
            db.drop_all()
            db.create_all()
        huey.flush()
    return app


@contextmanager
def consumers_running(workdir: Path, backend: str, consumers: int = 1):
    """``consumers`` consumer processes (2 thread workers each) on an empty database and queue,
    started and idle; the caller runs in the app's context."""
    import signal

    from webapp.extensions import db

    database_url, queue_url = backend_urls(workdir, backend)
    app = fresh_app(workdir, database_url, queue_url)
    with app.app_context():
        processes = [start_consumer(workdir, database_url, queue_url) for _ in range(consumers)]
        try:
            time.sleep(3 + consumers)  # let them start and go idle
            yield
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
            for process in processes:
                process.wait(timeout=30)
            db.session.remove()
            db.engine.dispose()


def drain(n: int, tracked: bool) -> float:
    """Queue ``n`` no-op tasks, with or without job tracking, and return how many a second the
    running consumers get through; the clock starts once they are queued, and stops when the
    queue is empty and (tracked) every one of their job logs says completed."""
    from sqlalchemy import func, select

    from jobkit import Call, huey
    from jobkit.queue import enqueue_many
    from tasks.samples import bare_noop, noop
    from webapp.extensions import db
    from webapp.models.jobs import JobLog

    if tracked:
        first = min(noop.dispatch_many([Call() for _ in range(n)]))
    else:
        enqueue_many([bare_noop.s() for _ in range(n)])
    start = time.perf_counter()
    # Both watch the queue the same way while it drains, so that watching costs the machine
    # the same in both.
    while huey.pending_count():
        time.sleep(0.005)
    if tracked:
        done = select(func.count()).where(JobLog.status == "completed", JobLog.id >= first)
        while db.session.scalar(done) < n:
            db.session.rollback()
            time.sleep(0.005)
        db.session.rollback()
    return n / (time.perf_counter() - start)


def drain_rate(workdir: Path, tracked: bool, n: int, backend: str, consumers: int = 1) -> float:
    """Tasks per second that ``consumers`` fresh consumers drain."""
    with consumers_running(workdir, backend, consumers):
        return drain(n, tracked)


def tracked_vs_bare(workdir: Path, backend: str, label: str, rounds: int = 7) -> dict:
    """One consumer drains bare and tracked no-ops in turn, ``rounds`` times each, after a
    warm-up of both; the ratio of the medians. Same process, same machine state: a single
    drain's rate still moves by several per cent from one to the next here, so the rounds'
    own ratios are reported too."""
    import statistics

    n = int(os.environ.get("BENCH_TRACKED_N", 20_000))
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
    return {
        "bare_per_s": round(bare),
        "tracked_per_s": round(tracked),
        "ratio": round(ratio, 3),
        "ratios_per_round": [round(r, 3) for r in ratios],
        "line": f"tracked vs bare, {label}: {tracked:,.0f} vs {bare:,.0f} tasks/s = {ratio:.2f}x "
        f"(median of {rounds} rounds in one consumer; rounds {ratios[0]:.2f}-{ratios[-1]:.2f})",
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


@figure
def enqueue_100k(workdir: Path) -> dict:
    """Dispatch 100,000 tracked jobs in bulk: the job-log rows and the queue entries."""
    from jobkit import Call, huey
    from tasks.samples import noop

    rates = {}
    for backend in ("sqlite", "redis_pg"):
        database_url, queue_url = backend_urls(workdir, backend)
        app = fresh_app(workdir, database_url, queue_url)
        with app.app_context():
            start = time.perf_counter()
            noop.dispatch_many([Call() for _ in range(100_000)])
            rates[backend] = round(100_000 / (time.perf_counter() - start))
            assert huey.pending_count() == 100_000
            huey.flush()
    return {
        "jobs_per_s": rates,
        "line": f"enqueue 100,000 tracked jobs in bulk: {rates['sqlite']:,}/s on SQLite, "
        f"{rates['redis_pg']:,}/s on Redis + PostgreSQL",
    }


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


def timed(client, url: str, headers: dict, repeat: int = 30) -> dict:
    import statistics

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
    }


def million_job_logs(workdir: Path):
    """An app on SQLite holding 1,000,000 job logs that finished over the last 30 days (7 %
    failed), with the stats rolled up as the consumers' upkeep keeps them."""
    from datetime import timedelta

    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.jobs import JobLog
    from webapp.services import metrics

    app = make_app(workdir)
    app.config["WTF_CSRF_ENABLED"] = False
    rows, chunk = 1_000_000, 50_000
    now = utcnow()
    step = timedelta(days=30) / rows
    with app.app_context():
        with db.engine.begin() as conn:
            for first in range(0, rows, chunk):
                batch = []
                for i in range(first, first + chunk):
                    finished = now - timedelta(days=30) + step * i
                    failed = i % 15 == 0
                    batch.append(
                        {
                            "task": f"task_{i % 12}",
                            "queue": ("high", "default", "low")[i % 3],
                            "status": "failed" if failed else "completed",
                            "progress": 100,
                            "attempts": 1,
                            "max_attempts": 1,
                            "arguments": {"args": [i], "kwargs": {}},
                            "payload": {"row": i},
                            "error": f"ValueError: row {i} is odd" if failed else None,
                            "created_at": finished - timedelta(seconds=2),
                            "started_at": finished - timedelta(seconds=1 + i % 7),
                            "finished_at": finished,
                        }
                    )
                conn.execute(insert(JobLog.__table__), batch)
        metrics.roll_up()
    return app


@figure
def pages_1m_job_logs(workdir: Path) -> dict:
    """/jobs and /api/job-logs with 1,000,000 job logs: first and deep page, and a search."""
    from webapp.services.users import create_user, issue_token

    app = million_job_logs(workdir)
    with app.app_context():
        token = issue_token(create_user("bench@example.com", "bench-password", "viewer"))
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
        api = {"Authorization": f"Bearer {token}"}
        deep = 1_000  # a cursor this close to the start is the deepest page there is
        results = {
            "jobs_first": timed(client, "/jobs", {}),
            "jobs_deep": timed(client, f"/jobs?cursor={deep}", {}),
            "api_first": timed(client, "/api/job-logs?limit=50", api),
            "api_deep": timed(client, f"/api/job-logs?limit=50&cursor={deep}", api),
            "api_search": timed(client, "/api/job-logs?q=row+4242", api),
            "api_failed_task": timed(client, "/api/job-logs?status=failed&task=task_3", api),
        }
    line = "; ".join(f"{name} {r['median_ms']}/{r['p95_ms']} ms" for name, r in results.items())
    return {**results, "line": f"1,000,000 job logs, median/p95: {line}"}


@figure
def dashboard_1m_job_logs(workdir: Path) -> dict:
    """The dashboard's live refresh (the htmx fragment) with 1,000,000 job logs."""
    from webapp.services.users import create_user

    app = million_job_logs(workdir)
    with app.app_context():
        create_user("bench@example.com", "bench-password", "viewer")
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
        result = timed(client, "/", {"HX-Request": "true"})
    return {
        **result,
        "line": f"dashboard refresh, 1,000,000 job logs: median {result['median_ms']} ms, "
        f"p95 {result['p95_ms']} ms",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("figures", nargs="*", choices=[[], *FIGURES], help="default: all")
    parser.add_argument("--single", choices=list(FIGURES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        with tempfile.TemporaryDirectory(prefix=f"jobdeck-bench-{args.single}-") as tmp:
            print(json.dumps(FIGURES[args.single](Path(tmp))))
        return
    names = args.figures or list(FIGURES)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"figures": {}}
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    for name in names:
        # Each figure runs in its own process, so that its peak memory is its own.
        done = subprocess.run(
            [sys.executable, "-m", "bench", "--single", name],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            print(f"{name}: failed\n{done.stderr[-3000:]}", flush=True)
            raise SystemExit(1)
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        print(outcome.pop("line"), flush=True)
        results["figures"][name] = outcome
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
