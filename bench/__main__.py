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
from pathlib import Path

from sqlalchemy import insert

RESULTS = Path(__file__).with_name("results.json")
FIGURES: dict[str, Callable[[Path], dict]] = {}


def figure(func: Callable[[Path], dict]) -> Callable[[Path], dict]:
    FIGURES[func.__name__] = func
    return func


def make_app(workdir: Path, queue_url: str | None = None):
    os.environ["JOBDECK_INSTANCE_PATH"] = str(workdir / "instance")
    from webapp import create_app
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
    from tasks import huey
    from tasks.series import dispatch_series_data
    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.series import Series
    from webapp.services.series import series_missing_data

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
    from tasks import huey
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


def start_consumer(workdir: Path, database_url: str, queue_url: str, workers: int = 2):
    import subprocess
    import sys

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


def drain_rate(workdir: Path, tracked: bool, n: int, queue_url: str, database_url: str) -> float:
    """Tasks per second one consumer (2 thread workers) drains, with or without tracking."""
    import signal

    from sqlalchemy import func, select

    from tasks import Call, huey
    from tasks.queue import enqueue_many
    from tasks.samples import bare_noop, noop
    from webapp.extensions import db
    from webapp.models.jobs import JobLog

    os.environ["JOBDECK_INSTANCE_PATH"] = str(workdir / "instance")
    from webapp import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "QUEUE_URL": queue_url, "SECRET_KEY": "bench"}
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        huey.flush()
        consumer = start_consumer(workdir, database_url, queue_url)
        try:
            time.sleep(3)  # let it start and go idle
            if tracked:
                noop.dispatch_many([Call() for _ in range(n)])
            else:
                enqueue_many([bare_noop.s() for _ in range(n)])
            start = time.perf_counter()
            if tracked:
                done = select(func.count()).where(JobLog.status == "completed")
                while db.session.scalar(done) < n:
                    db.session.rollback()
                    time.sleep(0.01)
            else:
                while huey.pending_count():
                    time.sleep(0.005)
            return n / (time.perf_counter() - start)
        finally:
            consumer.send_signal(signal.SIGINT)
            consumer.wait(timeout=30)
            db.session.remove()


@figure
def tracked_vs_bare_sqlite(workdir: Path) -> dict:
    """The same no-op tasks drained by the same consumer, with and without job tracking."""
    n = 5000
    queue, database = f"sqlite:///{workdir / 'q.db'}", f"sqlite:///{workdir / 'db.db'}"
    bare = drain_rate(workdir, False, n, queue, database)
    tracked = drain_rate(workdir, True, n, queue, database)
    ratio = tracked / bare
    return {
        "bare_per_s": round(bare),
        "tracked_per_s": round(tracked),
        "ratio": round(ratio, 3),
        "line": f"tracked vs bare, SQLite: {tracked:,.0f} vs {bare:,.0f} tasks/s = {ratio:.2f}x",
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
