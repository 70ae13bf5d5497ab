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
