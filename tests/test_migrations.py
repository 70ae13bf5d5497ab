"""The Alembic migrations build exactly the schema the models describe."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, needs_pg
from webapp.app import create_app
from webapp.extensions import db
from webapp.models.search import include_object


def migrate_and_compare(url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JOBDECK_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "QUEUE_URL": "memory://", "SECRET_KEY": "t"})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"include_object": include_object}),
                db.metadata,
            )
        assert diff == [], diff
        assert partial_indexes(db.engine) == partial_indexes_of_models(db.engine.dialect.name)
        if db.engine.dialect.name == "sqlite":
            assert autoincrement_tables(db.engine) == autoincrement_tables_of_models()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def partial_indexes(engine) -> set[str]:
    """The indexes with a WHERE clause in the database (Alembic's comparison ignores it)."""
    inspector = inspect(engine)
    return {
        index["name"]
        for table in db.metadata.tables
        for index in inspector.get_indexes(table)
        if any(option.endswith("_where") for option in index.get("dialect_options", {}))
    }


def partial_indexes_of_models(dialect: str) -> set[str]:
    return {
        index.name
        for table in db.metadata.tables.values()
        for index in table.indexes
        if index.dialect_options[dialect]["where"] is not None
    }


def autoincrement_tables(engine) -> set[str]:
    """The SQLite tables whose ids are never handed out twice (AUTOINCREMENT)."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        return {name for name, sql in rows if "AUTOINCREMENT" in (sql or "").upper()}


def autoincrement_tables_of_models() -> set[str]:
    tables = {
        t.name for t in db.metadata.tables.values() if t.dialect_options["sqlite"]["autoincrement"]
    }
    # every table with an integer id is one of them
    assert tables == {
        t.name
        for t in db.metadata.tables.values()
        if [c.name for c in t.primary_key] == ["id"] and t.c.id.type.python_type is int
    }
    return tables


def test_migrations_match_the_models_on_sqlite(tmp_path, monkeypatch):
    migrate_and_compare(f"sqlite:///{tmp_path / 'migrated.db'}", tmp_path, monkeypatch)


@needs_pg
def test_migrations_match_the_models_on_postgresql(tmp_path, monkeypatch):
    name = f"jobdeck_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        migrate_and_compare(url, tmp_path, monkeypatch)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("value", ["60,300,600", "0", ""])
def test_retry_delays_setting(value, tmp_path, monkeypatch):
    monkeypatch.setenv("JOBDECK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RETRY_DELAYS", value)
    app = create_app({"QUEUE_URL": "memory://"})
    expected = [int(v) for v in (value or "60,300,600").split(",")]
    assert app.config["RETRY_DELAYS"] == expected
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("jobdeck.db")
    assert (tmp_path / "secret_key").exists()


def test_the_autoincrement_migration_keeps_every_row_and_link(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBDECK_INSTANCE_PATH", str(tmp_path / "instance"))
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "QUEUE_URL": "memory://", "SECRET_KEY": "t"})
    with app.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO users (id, email, password_hash, role, timezone, active, created_at)"
                " VALUES (7, 'a@example.com', 'x', 'admin', 'UTC', 1, '2026-01-01 00:00:00')",
                "INSERT INTO api_tokens (id, user_id, token_hash, name, created_at)"
                " VALUES (3, 7, 'hash', '', '2026-01-01 00:00:00')",
                "INSERT INTO job_logs (id, task, queue, status, progress, attempts, max_attempts,"
                " arguments, payload, error, user_id, created_at)"
                " VALUES (40, 'sample_job', 'default', 'failed', 0, 1, 1, '{}', '{}',"
                " 'RuntimeError: kaboom', 7, '2026-01-01 00:00:00')",
                "INSERT INTO job_logs (id, task, queue, status, progress, attempts, max_attempts,"
                " arguments, payload, retry_of, created_at)"
                " VALUES (41, 'sample_job', 'default', 'completed', 100, 1, 1, '{}', '{}', 40,"
                " '2026-01-01 00:00:00')",
                "INSERT INTO imports (id, importer, filename, path, size, dry_run, status,"
                " total_rows, processed_rows, created_rows, updated_rows, failed_rows, user_id,"
                " job_log_id, created_at) VALUES (5, 'series', 'a.csv', '/x', 1, 0, 'completed',"
                " 0, 0, 0, 0, 0, 7, 41, '2026-01-01 00:00:00')",
            ):
                conn.exec_driver_sql(statement)
        upgrade()
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql("SELECT user_id FROM api_tokens").all() == [(7,)]
            assert conn.exec_driver_sql("SELECT id, retry_of, user_id FROM job_logs").all() == [
                (40, None, 7),
                (41, 40, None),
            ]
            assert conn.exec_driver_sql("SELECT user_id, job_log_id FROM imports").all() == [
                (7, 41)
            ]
            found = "SELECT rowid FROM job_logs_fts WHERE job_logs_fts MATCH 'kaboom'"
            assert conn.exec_driver_sql(found).all() == [(40,)]  # search still finds it
            conn.exec_driver_sql("DELETE FROM job_logs WHERE id = 41")
            conn.exec_driver_sql(
                "INSERT INTO job_logs (task, queue, status, progress, attempts, max_attempts,"
                " arguments, payload, created_at) VALUES ('noop', 'default', 'pending', 0, 0, 1,"
                " '{}', '{}', '2026-01-02 00:00:00')"
            )
            newest = conn.exec_driver_sql("SELECT max(id) FROM job_logs").scalar()
        assert newest == 42  # not 41 again
        db.engine.dispose()
