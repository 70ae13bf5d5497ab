"""Millions of job logs written fast, in bulk, by the database itself — not through the app:
``INSERT … SELECT`` from ``generate_series`` on PostgreSQL and from a recursive CTE on SQLite.

``seed_job_logs(engine_or_url, rows)`` adds ``rows`` finished job logs spread evenly over the
last ``days`` days (oldest first, so ids grow with time as they do in a real log), with the
columns a job the app ran would have: a task, a queue, a final status (1 in 10 failed with an
error, 1 in 50 cancelled, the rest completed), one attempt, times and a duration. The
``newest_active`` last rows are left pending, as the tail of a live queue. Tables must exist
(``flask db upgrade`` or ``create_all``). The search index is kept by the database as usual
(SQLite's FTS triggers fire; on PostgreSQL the table's indexes are dropped for the load and
built again after it, which is several times faster than keeping them up row by row).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, create_engine, text

TASKS = ("noop", "sample_job", "import_series", "export_records", "refresh_series")
QUEUES = ("default", "default", "low", "high")
# Rows per statement: each chunk is its own transaction, so a long load never holds one
# enormous transaction (or WAL) open.
CHUNK = 500_000


def _engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return create_engine(engine_or_url), True


def _case(values: tuple[str, ...], n: str) -> str:
    """A SQL CASE that picks values[n % len(values)]."""
    whens = " ".join(f"WHEN {i} THEN '{value}'" for i, value in enumerate(values))
    return f"CASE ({n}) % {len(values)} {whens} END"


def _status(n: str, active_from: int) -> str:
    return (
        f"CASE WHEN {n} >= {active_from} THEN 'pending' "
        f"WHEN {n} % 50 = 7 THEN 'cancelled' WHEN {n} % 10 = 3 THEN 'failed' "
        "ELSE 'completed' END"
    )


def _columns(n: str, active_from: int, created: str, started: str, finished: str) -> str:
    """The SELECT list for row number ``n`` (0 = oldest), given the SQL of its three times."""
    status = _status(n, active_from)
    active = f"{n} >= {active_from}"
    return (
        f"{_case(TASKS, n)}, {_case(QUEUES, f'{n} / 5')}, {status}, "
        f"CASE WHEN {active} THEN 0 ELSE 100 END, CASE WHEN {active} THEN 0 ELSE 1 END, 1, "
        "'{}', '{}', "
        f"CASE WHEN {active} THEN NULL ELSE 'done' END, "
        f"CASE WHEN {status} = 'failed' THEN 'RuntimeError: boom ' || ({n} % 1000) END, "
        f"{created}, CASE WHEN {active} THEN NULL ELSE {started} END, "
        f"CASE WHEN {active} THEN NULL ELSE {finished} END"
    )


COLUMNS = (
    "task, queue, status, progress, attempts, max_attempts, arguments, payload, message, "
    "error, created_at, started_at, finished_at"
)


def _sqlite_time(epoch_us: str) -> str:
    """SQLAlchemy's SQLite text form of a naive UTC time (microseconds always written), so
    that range filters compare these rows and the app's alike."""
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', ({epoch_us}) / 1000000, 'unixepoch') "
        f"|| '.' || printf('%06d', ({epoch_us}) % 1000000)"
    )


def _sqlite_chunk(first: int, count: int, active_from: int, origin_us: int, step_us: int) -> str:
    n = "n"
    created = f"{origin_us} + {n} * {step_us}"
    started = f"{created} + 1000000"
    finished = f"{started} + ({n} % 5000) * 1000"
    select = _columns(
        n, active_from, _sqlite_time(created), _sqlite_time(started), _sqlite_time(finished)
    )
    return (
        f"WITH RECURSIVE seq(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM seq "
        f"WHERE n < {first + count - 1}) "
        f"INSERT INTO job_logs ({COLUMNS}) SELECT {select} FROM seq"
    )


def _pg_chunk(first: int, count: int, active_from: int, origin_us: int, step_us: int) -> str:
    n = "n"
    created = (
        f"(TIMESTAMP '1970-01-01' + ({origin_us} + {n}::bigint * {step_us}) "
        "* INTERVAL '1 microsecond')"
    )
    started = f"({created} + interval '1 second')"
    finished = f"({started} + ({n} % 5000) * interval '1 millisecond')"
    select = _columns(n, active_from, created, started, finished).replace(
        "'{}', '{}'", "'{}'::json, '{}'::json"
    )
    return (
        f"INSERT INTO job_logs ({COLUMNS}) SELECT {select} "
        f"FROM generate_series({first}, {first + count - 1}) AS n"
    )


def _pg_indexes(conn) -> list[tuple[str, str]]:
    """The job log table's secondary indexes (name, definition); the primary key stays."""
    return list(
        conn.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.tablename = 'job_logs' AND i.schemaname = current_schema() "
                "AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
                "WHERE conrelid = 'job_logs'::regclass)"
            )
        )
    )


def seed_job_logs(
    engine_or_url: Engine | str,
    rows: int,
    *,
    days: float = 30,
    now: datetime | None = None,
    newest_active: int = 0,
    chunk: int = CHUNK,
) -> tuple[int, int]:
    """Add ``rows`` job logs created evenly over the ``days`` days before ``now`` (the oldest
    first), the newest ``newest_active`` of them pending and the rest finished; returns the
    (lowest, highest) id written. Works on SQLite and PostgreSQL."""
    engine, owned = _engine(engine_or_url)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    span_us = int(days * 86_400 * 1_000_000)
    origin_us = int(now.timestamp() * 1_000_000) - span_us
    step_us = max(1, span_us // max(rows, 1))
    # the last finished job must finish before ``now``: leave it 6 s (start + longest run)
    origin_us -= 6_000_000
    active_from = rows - newest_active
    postgres = engine.dialect.name == "postgresql"
    build = _pg_chunk if postgres else _sqlite_chunk
    try:
        with engine.begin() as conn:
            before = conn.scalar(text("SELECT coalesce(max(id), 0) FROM job_logs"))
            indexes = _pg_indexes(conn) if postgres and rows >= 100_000 else []
            for name, _definition in indexes:
                conn.execute(text(f'DROP INDEX "{name}"'))
        for first in range(0, rows, chunk):
            with engine.begin() as conn:
                count = min(chunk, rows - first)
                conn.execute(text(build(first, count, active_from, origin_us, step_us)))
        with engine.begin() as conn:
            if indexes:
                conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            for _name, definition in indexes:
                conn.execute(text(definition))
            lowest, highest = conn.execute(
                text("SELECT min(id), max(id) FROM job_logs WHERE id > :before"),
                {"before": before},
            ).one()
        if postgres:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE job_logs"))
    finally:
        if owned:
            engine.dispose()
    return lowest, highest


def time_of(row: int, rows: int, days: float, now: datetime) -> datetime:
    """When seeded row number ``row`` (0 = oldest) was created, for choosing cut-offs."""
    span = timedelta(days=days)
    step_us = max(1, int(days * 86_400 * 1_000_000) // max(rows, 1))
    return now - span - timedelta(seconds=6) + timedelta(microseconds=row * step_us)
