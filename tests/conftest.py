"""Fixtures: an app per test on a fresh database (SQLite always, PostgreSQL when
TEST_DATABASE_URL is set), the test client and CLI runner, and users of each role."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from webapp.app import create_app
from webapp.extensions import db
from webapp.models.users import Role, User
from webapp.services.users import create_user, issue_token

# Immediate mode runs failing tasks inside commands; keep Huey's own error log off their output.
logging.getLogger("huey").addHandler(logging.NullHandler())

PG_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
PASSWORD = "correct-horse"

needs_pg = pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set")

DATABASES = ["sqlite", pytest.param("postgresql", marks=needs_pg)]
_pg_schema_ready = False


def reset_postgres(url: str) -> None:
    """Give the shared PostgreSQL test database the current schema, empty."""
    global _pg_schema_ready
    engine = create_engine(url)
    with engine.begin() as conn:
        if not _pg_schema_ready:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            db.metadata.create_all(conn)
            _pg_schema_ready = True
        else:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def database_url(kind: str, tmp_path) -> str:
    if kind == "postgresql":
        reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path / 'jobdeck.db'}"


def make_app(database: str, tmp_path, monkeypatch, **overrides) -> Flask:
    monkeypatch.setenv("JOBDECK_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url(database, tmp_path),
        "QUEUE_URL": "memory://",
        "HUEY_IMMEDIATE": True,
        "WTF_CSRF_ENABLED": False,
        "DATA_DIR": str(tmp_path / "files"),
        "RETRY_DELAYS": [0, 0],
        "JOB_LOG_FLUSH_SECONDS": 0,
        "OUTBOUND_ALLOW_PRIVATE": True,  # the fakes listen on 127.0.0.1
        **overrides,
    }
    app = create_app(config)

    @app.before_request
    def forget_previous_user() -> None:
        # Tests keep one app context pushed, so requests share `g`; in production every
        # request has its own. Forget the user the previous request loaded.
        g.pop("_login_user", None)

    with app.app_context():
        db.create_all()
    return app


@pytest.fixture(params=DATABASES)
def database(request) -> str:
    return request.param


@pytest.fixture
def app(database, tmp_path, monkeypatch) -> Iterator[Flask]:
    app = make_app(database, tmp_path, monkeypatch)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def users(app) -> dict[str, User]:
    """One user of each role, keyed by role name."""
    return {
        role.value: create_user(f"{role.value}@example.com", PASSWORD, role.value) for role in Role
    }


@pytest.fixture
def login(client, users):
    """Sign the test client in as a user of the given role."""

    def sign_in(role: str = "operator") -> User:
        response = client.post(
            "/login", data={"email": f"{role}@example.com", "password": PASSWORD}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return users[role]

    return sign_in


@pytest.fixture
def bearer(users):
    """Authorization headers with a fresh API token for the given role."""

    def headers(role: str = "operator") -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(users[role])}"}

    return headers


@pytest.fixture
def fake_tvmaze(app):
    """A fake TVmaze on localhost, wired into the app as TVMAZE_URL."""
    from tests.fake_tvmaze import FakeServer, FakeTVmaze

    server = FakeServer(FakeTVmaze())
    app.config["TVMAZE_URL"] = server.url
    app.extensions.pop("tvmaze", None)
    yield server.fake
    server.stop()


@pytest.fixture
def queued(database, tmp_path, monkeypatch) -> Iterator[Flask]:
    """An app whose jobs wait in a real SQLite queue instead of running at once."""
    app = make_app(
        database,
        tmp_path,
        monkeypatch,
        QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}",
        HUEY_IMMEDIATE=False,
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
