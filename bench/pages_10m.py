"""Page figures at ten million job logs, on SQLite and on PostgreSQL (not part of CI).

The job logs are written by the database itself (``bench.big.seed_job_logs``), not through
the app: ten million rows through the recorder would take hours.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bench.big import seed_job_logs
from bench.common import backend_urls, figure, fresh_app, scaled
from bench.pages import timed

ROWS = 10_000_000


def vacuumed(engine) -> None:
    """What autovacuum does to a table loaded in bulk, so that PostgreSQL's index-only scans
    see every page as all-visible (SQLite has nothing to do)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE job_logs"))


PAGES = {
    "jobs_first": ("/jobs", {}),
    "jobs_deep": ("/jobs?cursor={deep}", {}),
    "failed": ("/failed", {}),
    "api_first": ("/api/job-logs?limit=50", "api"),
    "api_deep": ("/api/job-logs?limit=50&cursor={deep}", "api"),
    "api_search": ("/api/job-logs?q=boom+423", "api"),
    "api_stats": ("/api/job-logs/stats", "api"),
    "metrics": ("/metrics", {}),
    "dashboard": ("/", {"HX-Request": "true"}),
}


def ten_million_pages(workdir: Path, backend: str, pages: list[str]) -> dict:
    """Seed ten million job logs (at the run's scale) on ``backend``, roll them up as the
    upkeep does, and time the pages as a signed-in viewer."""
    from webapp.extensions import db
    from webapp.services import metrics
    from webapp.services.jobs.stats import fold_job_count_changes
    from webapp.services.users import create_user, issue_token

    rows = scaled(ROWS)
    database_url, queue_url = backend_urls(workdir, backend)
    app = fresh_app(workdir, database_url, queue_url)
    with app.app_context():
        seed_job_logs(db.engine, rows, newest_active=1_000)
        vacuumed(db.engine)
        metrics.roll_up()  # as the consumers' upkeep does
        fold_job_count_changes()
        token = issue_token(create_user("bench@example.com", "bench-password", "viewer"))
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
        api = {"Authorization": f"Bearer {token}"}
        deep = 1_000  # a cursor this close to the start is the deepest page there is
        results = {}
        for name in pages:
            url, headers = PAGES[name]
            results[name] = timed(
                client, url.format(deep=deep), api if headers == "api" else headers
            )
        db.session.remove()
        db.engine.dispose()
    return {**results, "rows": rows}


def _line(what: str, outcome: dict) -> str:
    parts = []
    for backend, pages in outcome.items():
        shown = ", ".join(
            f"{name} {r['median_ms']}/{r['p95_ms']}" for name, r in pages.items() if name != "rows"
        )
        parts.append(f"{backend}: {shown}")
    return f"{what}, {scaled(ROWS):,} job logs, median/p95 ms — " + "; ".join(parts)


@figure
def pages_10m_job_logs(workdir: Path) -> dict:
    """The job lists, the failed list, the API (first, deep, search, stats) and /metrics with
    ten million job logs, on SQLite and on PostgreSQL."""
    pages = [name for name in PAGES if name != "dashboard"]
    outcome = {b: ten_million_pages(workdir, b, pages) for b in ("sqlite", "redis_pg")}
    return {**outcome, "line": _line("pages", outcome)}


@figure
def dashboard_10m_job_logs(workdir: Path) -> dict:
    """The dashboard's live refresh (the htmx fragment) with ten million job logs, on SQLite
    and on PostgreSQL."""
    outcome = {b: ten_million_pages(workdir, b, ["dashboard"]) for b in ("sqlite", "redis_pg")}
    return {**outcome, "line": _line("dashboard refresh", outcome)}
