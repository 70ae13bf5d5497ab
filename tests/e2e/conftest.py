"""End-to-end fixtures: the app and real `flask queue work` consumer processes sharing a
database and a queue (SQLite + SQLite always; PostgreSQL + Redis when CI provides them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL, make_app, needs_pg, needs_redis
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[2]

BACKENDS = [
    "sqlite",
    pytest.param("postgresql+redis", marks=[needs_pg, needs_redis]),
]


class Consumer:
    """A `flask queue work` subprocess with the test's settings."""

    def __init__(
        self, env: dict[str, str], log_path: Path, workers: int, verbose: bool = False
    ) -> None:
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
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
                *(["--verbose"] if verbose else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(params=BACKENDS)
def e2e(request, tmp_path, monkeypatch) -> Iterator[dict]:
    """The app (in this process) and a way to start consumers against the same storage."""
    if request.param == "sqlite":
        database, queue_url = "sqlite", f"sqlite:///{tmp_path / 'queue.db'}"
    else:
        database, queue_url = "postgresql", REDIS_URL
        redis.Redis.from_url(REDIS_URL).flushdb()
    app = make_app(database, tmp_path, monkeypatch, QUEUE_URL=queue_url, HUEY_IMMEDIATE=False)
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "QUEUE_URL": queue_url,
        "JOBDECK_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test",
        "RETRY_DELAYS": "1,1",
        "OUTBOUND_ALLOW_PRIVATE": "1",  # the fakes listen on 127.0.0.1
    }
    consumers: list[Consumer] = []

    def start(workers: int = 2, verbose: bool = False) -> Consumer:
        env["TVMAZE_URL"] = os.environ.get("TVMAZE_URL", "http://127.0.0.1:9")
        log = tmp_path / f"consumer-{len(consumers)}.log"
        consumer = Consumer(env, log, workers, verbose)
        consumers.append(consumer)
        return consumer

    with app.app_context():
        yield {"app": app, "start": start, "database": database}
        for consumer in consumers:
            consumer.stop()
        db.session.remove()
        db.engine.dispose()


def wait_for(check: Callable[[], object], timeout: float = 20, what: str = "") -> object:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        db.session.rollback()
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
