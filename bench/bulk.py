"""Bulk figures: imports, import-missing, bulk dispatch, the scheduler tick and exports."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import insert

from bench.common import backend_urls, figure, fresh_app, make_app, peak_mb, scaled


@figure
def import_missing_100k(workdir: Path) -> dict:
    """Find 100,000 never-imported series and dispatch their data jobs (one query, one bulk)."""
    from jobkit import huey
    from tasks.series import dispatch_series_data
    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.series import Series
    from webapp.services.series_work import series_missing_data

    rows = scaled(100_000)
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
        start, cpu = time.perf_counter(), time.process_time()
        ids = series_missing_data()
        found = time.perf_counter()
        dispatch_series_data(ids)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        assert huey.pending_count() == rows
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "find_seconds": round(found - start, 2),
        "rows_per_s": round(rows / elapsed),
        "line": f"import-missing, {rows:,} series: {elapsed:.2f} s, {rows / elapsed:,.0f} rows/s "
        f"(of which {found - start:.2f} s finding them; {cpu:.2f} s of CPU)",
    }


@figure
def scheduler_tick_10k(workdir: Path) -> dict:
    """One scheduler tick that finds 10,000 active schedules due and dispatches their runs."""
    from jobkit import huey
    from tasks.schedules import tick
    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.schedules import Schedule

    n = scaled(10_000)
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
        start, cpu = time.perf_counter(), time.process_time()
        dispatched = tick()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        assert huey.pending_count() + huey.scheduled_count() == dispatched >= n
    return {
        "schedules": n,
        "runs": dispatched,
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "line": f"scheduler tick, {n:,} due schedules: {elapsed:.2f} s "
        f"({dispatched / elapsed:,.0f} runs/s; {cpu:.2f} s of CPU)",
    }


@figure
def import_100k_rows(workdir: Path) -> dict:
    """Import 100,000 CSV rows of which 10 % are refused, through the series importer."""
    from webapp.services import imports

    rows, bad = scaled(100_000), 0
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
        start, cpu = time.perf_counter(), time.process_time()
        with open(path, "rb") as stream:
            record = imports.store_upload(stream, path.name, "series", None, False)
        record = imports.run_import(record.id)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        assert record.failed_rows == bad and record.created_rows == rows - bad
    return {
        "rows": rows,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu, 2),
        "rows_per_s": round(rows / elapsed),
        "peak_mb": peak_mb(),
        "peak_mb_before": before,
        "line": f"import {rows:,} CSV rows (10 % refused): {rows / elapsed:,.0f} rows/s, "
        f"peak memory {peak_mb()} MB (was {before} MB before)",
    }


@figure
def export_1m_job_logs_csv(workdir: Path) -> dict:
    """Export 1,000,000 job logs to CSV, streamed."""
    from webapp.extensions import db
    from webapp.models.base import utcnow
    from webapp.models.jobs import JobLog
    from webapp.services import exports

    rows = scaled(1_000_000)
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
            # in chunks small enough that seeding does not set the peak the export is judged by
            for start in range(0, rows, 10_000):
                conn.execute(insert(JobLog.__table__), [row] * min(10_000, rows - start))
        before = peak_mb()
        start, cpu = time.perf_counter(), time.process_time()
        export = exports.start_export("job_logs", "csv", {}, None)
        export = exports.write_export(export.id)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        assert export.rows == rows
    return {
        "rows": rows,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu, 2),
        "rows_per_s": round(rows / elapsed),
        "peak_mb": peak_mb(),
        "peak_mb_before": before,
        "line": f"export {rows:,} job logs to CSV: {rows / elapsed:,.0f} rows/s, "
        f"peak memory {peak_mb()} MB (was {before} MB before)",
    }


@figure
def enqueue_100k(workdir: Path) -> dict:
    """Dispatch 100,000 tracked jobs in bulk: the job-log rows and the queue entries."""
    from jobkit import Call, huey
    from tasks.samples import noop

    rates, n = {}, scaled(100_000)
    for backend in ("sqlite", "redis_pg"):
        database_url, queue_url = backend_urls(workdir, backend)
        app = fresh_app(workdir, database_url, queue_url)
        with app.app_context():
            start = time.perf_counter()
            noop.dispatch_many([Call() for _ in range(n)])
            rates[backend] = round(n / (time.perf_counter() - start))
            assert huey.pending_count() == n
            huey.flush()
    return {
        "jobs_per_s": rates,
        "line": f"enqueue {n:,} tracked jobs in bulk: {rates['sqlite']:,}/s on SQLite, "
        f"{rates['redis_pg']:,}/s on Redis + PostgreSQL",
    }
