"""What the figures share: the figure registry, apps on fresh databases, consumers, drains and
memory, and how big a figure runs (``BENCH_SCALE``: 0.1 runs every size at a tenth, for
trying a change; the figures in results.json are from scale 1)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")
FIGURES: dict[str, Callable[[Path], dict]] = {}
SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def scaled(n: int) -> int:
    """``n`` at the run's scale (at least 1)."""
    return max(1, int(n * SCALE))


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


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# Redis + PostgreSQL figures use these (the machine's services by default); the benchmark
# works in a database of its own, created when missing, so it never touches the test database.
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# The database the figures work in (created next to PG_URL's when missing).
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "jobdeck_bench")
if not PG_DATABASE.isidentifier():
    raise SystemExit(f"BENCH_PG_DATABASE must be a plain name, not {PG_DATABASE!r}")


def bench_pg_url() -> str:
    """A database of the benchmark's own next to PG_URL's, created if missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_DATABASE}
        )
        if not found:
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=PG_DATABASE).render_as_string(hide_password=False)


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
