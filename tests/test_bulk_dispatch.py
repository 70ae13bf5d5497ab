"""A bulk dispatch writes exactly what the same calls dispatched one at a time write: rows,
stored values, tags, redaction, unique keys and the queued tasks."""

import pytest
from sqlalchemy import create_engine, delete, event, select
from sqlalchemy.exc import DBAPIError

from jobkit import Call, huey, tracked_task
from tests.conftest import make_app
from webapp.extensions import db
from webapp.models.jobs import JobLog, JobTag
from webapp.services import batches
from webapp.services.jobs.search import search_clause

N = 2500  # more than a statement's rows and than the bulk threshold


@tracked_task(
    name="test_bulk_probe",
    tags=("probe",),
    secret_args=("api_token",),
    unique_key=lambda record_id, *_, **__: record_id,
)
def bulk_probe(record_id: int, label: str, api_token: str = "", options: dict | None = None):
    """Never run here: the queue is not immediate."""


@pytest.fixture
def queued(database, tmp_path, monkeypatch):
    app = make_app(database, tmp_path, monkeypatch, HUEY_IMMEDIATE=False)
    with app.app_context():
        huey.flush()
        yield app
        huey.flush()
        db.session.remove()
        db.engine.dispose()


def the_calls() -> list[Call]:
    calls = []
    for i in range(N):
        kwargs = {"api_token": f"tok-{i}"} if i % 5 == 0 else {}
        if i % 7 == 0:
            kwargs["options"] = {"password": f"pw{i}", "depth": i}
        label = f"https://bob:hunter{i}@example.com/x" if i % 11 == 0 else f"label w{i}end"
        tags = ("third",) if i % 3 == 0 else ()
        calls.append(Call((i, label), kwargs, source=("series", i), tags=tags))
    return calls


def logged(ids: list[int]) -> list[tuple]:
    """What each job shows (its JSON without id and times) and its values as stored."""
    db.session.expire_all()
    jobs = {j.id: j for j in db.session.scalars(select(JobLog).where(JobLog.id.in_(ids)))}
    stored = {
        row[0]: row[1:]
        for row in db.session.execute(
            select(JobLog.id, JobLog.unique_key, JobLog.arguments, JobLog.max_attempts)
        )
    }
    shown = []
    for job_id in ids:
        data = jobs[job_id].to_dict()
        for name in ("id", "created_at"):
            data.pop(name)
        shown.append((data, stored[job_id]))
    return shown


def queued_tasks() -> list[tuple]:
    return sorted(
        (int(t.id), t.name, t.args, t.kwargs, t.priority, t.retries) for t in huey.pending()
    )


def test_a_bulk_dispatch_writes_what_single_dispatches_write(queued):
    batch = batches.create_batch("probe", N)
    bulk_ids = bulk_probe.dispatch_many(the_calls(), batch_id=batch.id, tags=["bulk"])
    assert len(set(bulk_ids)) == N
    bulk_rows, bulk_tasks = logged(bulk_ids), queued_tasks()
    words = db.session.scalars(select(JobLog.id).where(search_clause("w17end"))).all()
    assert words == [bulk_ids[17]]  # the search index has every row
    assert db.session.scalars(select(JobLog.id).where(search_clause("hunter11"))).all() == []

    db.session.execute(delete(JobLog))
    db.session.commit()
    huey.flush()
    single_ids = [
        bulk_probe.dispatch(
            *call.args,
            source=call.source,
            batch_id=batch.id,
            tags=["bulk", *call.tags],
            **call.kwargs,
        )
        for call in the_calls()
    ]
    assert logged(single_ids) == bulk_rows
    offset = single_ids[0] - bulk_ids[0]
    assert [(i - offset, *rest) for i, *rest in queued_tasks()] == bulk_tasks

    data, _ = bulk_rows[35]  # i % 5 == 0 and i % 7 == 0
    assert data["payload"]["api_token"] == "[redacted]"
    assert data["payload"]["options"] == {"password": "[redacted]", "depth": 35}
    assert bulk_rows[22][0]["payload"]["label"] == "https://bob:[redacted]@example.com/x"
    assert bulk_rows[3][0]["tags"] == ["bulk", "probe", "third"]
    assert bulk_rows[4][0]["tags"] == ["bulk", "probe"]
    assert bulk_rows[0][1][0] == "0"  # the unique key


def test_a_bulk_row_is_stored_as_the_orm_stores_one(queued):
    [job_id] = bulk_probe.dispatch_many([Call((1, "x"), {"options": {"a": [1, "é"]}})])
    db.session.expire_all()
    bulk = db.session.get(JobLog, job_id)
    orm = JobLog(
        task=bulk.task,
        queue=bulk.queue,
        status=bulk.status,
        max_attempts=bulk.max_attempts,
        arguments=bulk.arguments,
        payload=bulk.payload,
        created_at=bulk.created_at,
    )
    db.session.add(orm)
    db.session.commit()
    columns = "task, queue, status, progress, attempts, max_attempts, created_at"
    cast = "" if db.engine.dialect.name == "sqlite" else "::text"
    sql = f"SELECT {columns}, arguments{cast}, payload{cast} FROM job_logs WHERE id = "
    with db.engine.connect() as conn:
        assert (
            conn.exec_driver_sql(sql + str(job_id)).one()
            == conn.exec_driver_sql(sql + str(orm.id)).one()
        )


def test_a_key_taken_between_the_look_and_the_insert_returns_the_other_job(queued):
    other_engine = create_engine(db.engine.url)
    taken: list[int] = []

    def another_dispatcher(conn, cursor, statement, *args):
        if not taken and "unique_key" in statement and statement.lstrip().startswith("SELECT"):
            with other_engine.begin() as other:
                taken.append(
                    other.execute(
                        JobLog.__table__.insert().returning(JobLog.id),
                        {"task": "test_bulk_probe", "unique_key": "2", "status": "pending"},
                    ).scalar_one()
                )

    event.listen(db.engine, "after_cursor_execute", another_dispatcher)
    try:
        ids = bulk_probe.dispatch_many([Call((i, "x")) for i in range(1, 1500)])
    finally:
        event.remove(db.engine, "after_cursor_execute", another_dispatcher)
        other_engine.dispose()
    assert ids[1] == taken[0] and len(set(ids)) == 1499
    assert huey.pending_count() == 1498  # the other's job is the other's to queue
    assert db.session.scalar(select(JobTag.tag).where(JobTag.job_id == ids[0])) == "probe"


@tracked_task(name="test_long_key_probe", unique_key=lambda text: text)
def long_key_probe(text: str):
    """Never run here."""


def test_a_key_too_long_for_its_column_is_refused_or_kept_whole_never_cut(queued):
    key = "k" * 250  # the column holds 200: PostgreSQL refuses it, SQLite keeps any length
    try:
        long_key_probe.dispatch_many([Call((key,)), Call(("short",))])
    except DBAPIError:
        assert db.engine.dialect.name == "postgresql"
    db.session.rollback()
    stored = set(db.session.scalars(select(JobLog.unique_key)))
    assert stored in ({key, "short"}, set())
