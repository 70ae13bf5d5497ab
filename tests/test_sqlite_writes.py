"""SQLite under concurrent writers: writes wait for the lock instead of failing, a lock held too
long fails with a message fit for people, and an import stopped by the database resumes."""

from __future__ import annotations

import io
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from jobkit import tracked_task
from tasks.samples import sample_job
from tests.conftest import make_app
from webapp import extensions
from webapp.extensions import db
from webapp.models.series import Series
from webapp.models.transfers import FailedImportRow
from webapp.services import importers, imports
from webapp.services.users import create_user, issue_token


def series_csv(first_id: int, rows: int) -> bytes:
    lines = "".join(f"Show {i},{i},\n" for i in range(first_id, first_id + rows))
    return f"name,tvmaze_id,tvdb_id\n{lines}".encode()


def post_import(client, token: str, content: bytes):
    return client.post(
        "/api/imports",
        data={"file": (io.BytesIO(content), "series.csv"), "importer": "series"},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    """An app on a SQLite file whose connections give up on a held lock after 0.1 s a try."""
    monkeypatch.setattr(extensions, "BUSY_TIMEOUT_MS", 100)
    app = make_app("sqlite", tmp_path, monkeypatch)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def hold_write_lock(path: str, seconds: float) -> threading.Thread:
    """Another process's long write: a connection that holds the write lock for ``seconds``."""
    taken = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


def test_imports_started_together_beside_job_writes_all_complete_exactly(app, database, users):
    """Three imports and a stream of jobs, all writing at once, as on the default set-up."""
    if database != "sqlite":
        pytest.skip("SQLite's write lock")
    token = issue_token(users["operator"])
    rows = 3000
    results: dict[int, dict] = {}
    stop = threading.Event()
    jobs_done: list[int] = []

    def run_import(n: int) -> None:
        with app.app_context():
            response = post_import(app.test_client(), token, series_csv(n * rows + 1, rows))
            results[n] = response.get_json()

    def run_jobs() -> None:
        with app.app_context():
            while not stop.is_set():
                jobs_done.append(sample_job.dispatch(steps=1, step_seconds=0))

    writer = threading.Thread(target=run_jobs)
    writer.start()
    threads = [threading.Thread(target=run_import, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    writer.join()

    for body in results.values():
        assert body["status"] == "completed", body
        assert (body["created_rows"], body["failed_rows"], body["error"]) == (rows, 0, None)
    assert db.session.scalar(select(func.count()).select_from(Series)) == 3 * rows
    assert db.session.scalar(select(func.count()).select_from(FailedImportRow)) == 0
    assert jobs_done  # the jobs really wrote alongside


def test_a_write_waits_out_a_lock_held_past_one_busy_timeout(sqlite_app):
    token = issue_token(create_user("op@example.com", "pw-pw-pw-pw", "operator"))
    holder = hold_write_lock(db.engine.url.database, 0.15)  # longer than one wait, not three
    response = post_import(sqlite_app.test_client(), token, series_csv(1, 3))
    holder.join()
    assert response.status_code == 202 and response.get_json()["status"] == "completed"


def test_a_lock_held_too_long_is_a_503_that_names_no_sql(sqlite_app):
    token = issue_token(create_user("op@example.com", "pw-pw-pw-pw", "operator"))
    holder = hold_write_lock(db.engine.url.database, 1.0)
    response = post_import(sqlite_app.test_client(), token, series_csv(1, 3))
    holder.join()
    assert response.status_code == 503
    assert response.get_json()["error"] == {
        "code": "unavailable",
        "message": "The database was busy and the change was not stored; try again.",
    }


@tracked_task(name="test_bad_query")
def bad_query() -> None:
    db.session.execute(text("SELECT secret_column FROM no_such_table WHERE x = :x"), {"x": 42})


def test_a_job_failing_in_the_database_shows_no_sql(app, client, login):
    login("viewer")
    job_id = bad_query.dispatch()
    body = client.get(f"/api/job-logs/{job_id}").get_json()
    assert body["status"] == "failed"
    # SQLite and PostgreSQL say it in their own words; neither shows the statement
    missing = "no such table" if db.engine.dialect.name == "sqlite" else "does not exist"
    assert body["error"].split(": ", 1)[0] in ("OperationalError", "ProgrammingError")
    assert missing in body["error"] and "database" in body["error"]
    assert "SELECT" not in body["error"] and "42" not in body["error"]
    # the traceback quotes the task's source lines, but not the statement as sent, nor its values
    for shown in (body["traceback"], client.get(f"/jobs/{job_id}").get_data(as_text=True)):
        assert missing in shown
        assert "[SQL:" not in shown and "[parameters:" not in shown and "WHERE x = ?" not in shown


def test_an_import_stopped_by_a_busy_database_resumes_without_duplicates(
    app, client, bearer, monkeypatch
):
    headers = bearer("operator")
    rows = imports.CHUNK_SIZE * 4 + 7
    save_many = importers.SeriesImporter.save_many
    chunks = []

    def busy_on_the_third_chunk(self, values, user_id, dry_run):
        chunks.append(len(values))
        if len(chunks) == 3:
            raise OperationalError(
                "INSERT INTO series (name) VALUES (?)",
                ("x",),
                sqlite3.OperationalError("database is locked"),
            )
        return save_many(self, values, user_id, dry_run)

    monkeypatch.setattr(importers.SeriesImporter, "save_many", busy_on_the_third_chunk)
    content = series_csv(1, rows).decode().replace("Show 3,3,", "Show 3,,", 1).encode()
    body = post_import(client, headers["Authorization"].split()[1], content).get_json()
    assert body["status"] == "failed"
    assert body["processed_rows"] == 2 * imports.CHUNK_SIZE
    assert body["error"] == (
        f"The database was busy; the rows after row {2 * imports.CHUNK_SIZE} were not stored. "
        "Retry the import: it continues from there."
    )
    page = client.get(f"/imports/{body['id']}", headers=headers).get_data(as_text=True)
    assert "INSERT" not in page and "SQL" not in page

    retried = client.post(f"/api/job-logs/{body['job_log_id']}/retry", headers=headers)
    assert retried.status_code == 202
    done = client.get(f"/api/imports/{body['id']}", headers=headers).get_json()
    assert done["status"] == "completed" and done["error"] is None
    assert (done["total_rows"], done["processed_rows"]) == (rows, rows)
    assert (done["created_rows"], done["updated_rows"], done["failed_rows"]) == (rows - 1, 0, 1)
    assert db.session.scalar(select(func.count()).select_from(Series)) == rows - 1
    refused = client.get(f"/api/imports/{body['id']}/failed-rows", headers=headers).get_json()
    assert [r["row_number"] for r in refused] == [4]  # the row without ids, refused once
