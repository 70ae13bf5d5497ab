"""Retention: a prune deletes exactly the finished job logs older than N days, a chunk at a
time, with what hangs off them, alongside other prunes and running jobs, and the space it
frees is used again."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text, update

from bench.big import seed_job_logs
from tasks.samples import sample_job
from tests.test_job_search import scheduled_job
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import DeletedRetry, JobLog, JobTag
from webapp.services import jobs as job_service


def aged(job_ids: list[int], days: float, **values) -> None:
    """Make these jobs look ``days`` days old (created, started and finished then)."""
    moment = utcnow() - timedelta(days=days)
    db.session.execute(
        update(JobLog)
        .where(JobLog.id.in_(job_ids))
        .values({"created_at": moment, "started_at": moment, "finished_at": moment, **values})
    )
    db.session.commit()


def finished_jobs(n: int, fail: bool = False, tags: tuple[str, ...] = ()) -> list[int]:
    step = {"fail_at_step": 1} if fail else {}
    return [sample_job.dispatch(steps=1, step_seconds=0, tags=list(tags), **step) for _ in range(n)]


def remaining(job_ids) -> set[int]:
    return set(db.session.scalars(select(JobLog.id).where(JobLog.id.in_(job_ids))))


def test_a_prune_in_chunks_deletes_exactly_the_old_finished_jobs_and_what_hangs_off_them(
    app, client, bearer
):
    old_done = finished_jobs(7, tags=("nightly",))
    old_failed = finished_jobs(4, fail=True)
    old_cancelled = finished_jobs(2)
    aged(old_done + old_failed, 40)
    aged(old_cancelled, 40, status="cancelled")
    old_running = finished_jobs(2)
    aged(old_running, 40, status="running", finished_at=None)
    recent = finished_jobs(3, tags=("nightly",))
    aged(recent, 29)
    # an old retry of a failed job that stays: the kept job must stay off the failed list
    kept_failed = finished_jobs(1, fail=True)
    [old_retry], _ = job_service.retry_jobs(kept_failed)
    aged([old_retry], 40)
    # a recent retry of an old failed job: the retry stays, its link to the deleted job goes
    [recent_retry], _ = job_service.retry_jobs(old_failed[:1])
    doomed = old_done + old_failed + old_cancelled + [old_retry]

    seen: list[int] = []
    deleted = job_service.prune_jobs(30, chunk_size=3, on_progress=seen.append)

    assert deleted == len(doomed) == 14
    assert seen == [3, 6, 9, 12, 14]
    assert remaining(doomed) == set()
    kept = old_running + recent + kept_failed + [recent_retry]
    assert remaining(kept) == set(kept)
    assert db.session.scalar(select(func.count()).select_from(JobTag)) == 3
    assert db.session.get(JobLog, recent_retry).retry_of is None
    assert list(db.session.scalars(select(DeletedRetry.retry_of))) == kept_failed
    headers = bearer("viewer")
    tagged = client.get("/api/job-logs?tag=nightly", headers=headers).get_json()["items"]
    assert sorted(item["id"] for item in tagged) == sorted(recent)


def test_a_prune_through_the_cli_leaves_a_schedule_run_without_its_deleted_job(app, runner):
    from webapp.models.schedules import ScheduleRun

    _schedule, run, job_id = scheduled_job()
    aged([job_id], 40)
    result = runner.invoke(args=["jobs", "prune", "--days", "30"])
    assert result.exit_code == 0 and "Deleted 1 finished job logs" in result.output
    db.session.expire_all()
    assert db.session.get(ScheduleRun, run.id).job_log_id is None
    assert remaining([job_id]) == set()


def test_two_prunes_at_once_delete_each_job_once(app):
    failed = finished_jobs(6, fail=True)
    retries = [job_service.retry_jobs([job_id])[0][0] for job_id in failed]
    old = finished_jobs(40) + retries
    aged(old, 40)
    counts: list[int] = []
    errors: list[BaseException] = []

    def prune() -> None:
        with app.app_context():
            try:
                counts.append(job_service.prune_jobs(30, chunk_size=4))
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

    threads = [threading.Thread(target=prune) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(counts) == len(old) and remaining(old) == set()
    assert sorted(db.session.scalars(select(DeletedRetry.retry_of))) == sorted(failed)


def test_a_prune_while_jobs_are_written_keeps_them(app):
    old = finished_jobs(60)
    aged(old, 40)
    written: list[int] = []

    def run_jobs() -> None:
        with app.app_context():
            written.extend(finished_jobs(15))

    writer = threading.Thread(target=run_jobs)
    writer.start()
    deleted = job_service.prune_jobs(30, chunk_size=5)
    writer.join()
    assert deleted == 60 and remaining(old) == set()
    statuses = db.session.scalars(select(JobLog.status).where(JobLog.id.in_(written)))
    assert sorted(statuses) == ["completed"] * 15


def database_size(app) -> int:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with db.engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return Path(url.removeprefix("sqlite:///")).stat().st_size
        # the table itself: an index's emptied pages are recycled only once no transaction
        # older than their deletion is open anywhere in the cluster, which a shared test
        # server cannot promise
        return conn.scalar(text("SELECT pg_relation_size('job_logs')"))


def test_the_database_does_not_grow_over_prune_and_refill(app, runner):
    """SQLite hands the freed pages back to the file system and fills the file again to the
    same size; PostgreSQL's vacuum after the prune lets the refill reuse the table's space."""
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")

    def fill() -> None:
        seed_job_logs(db.engine, 20_000, days=20, now=utcnow() - timedelta(days=40))

    fill()
    full, sizes = database_size(app), []
    for _ in range(4):
        result = runner.invoke(args=["jobs", "prune", "--days", "30"])
        assert "Deleted 20000 finished job logs" in result.output
        if sqlite:
            assert database_size(app) < full / 4  # the freed pages went back to the file system
        fill()
        sizes.append(database_size(app))
    assert max(sizes) <= full * 1.1
    runner.invoke(args=["jobs", "prune", "--days", "30"])
    assert json.loads(runner.invoke(args=["jobs", "list", "--json"]).output) == []
