"""Page figures: the job lists, the API and the dashboard over a million job logs."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from sqlalchemy import insert

from bench.common import figure, make_app


def timed(client, url: str, headers: dict, repeat: int = 30) -> dict:
    """Median and p95 wall-clock time of ``repeat`` requests, and the median CPU time this
    process spent on one (the app, and SQLite's work too; PostgreSQL's is its own)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    walls.sort()
    return {
        "median_ms": round(statistics.median(walls), 1),
        "p95_ms": round(walls[int(len(walls) * 0.95) - 1], 1),
        "cpu_median_ms": round(statistics.median(cpus), 1),
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
