"""/api/job-logs/stats reads the counts the database keeps; they stay exactly what a scan of
the job logs gives, through runs, retries, cancels, prunes, deletes and flushes, per viewer."""

from datetime import timedelta

from sqlalchemy import delete, func, select, update

from tasks.samples import sample_job
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import QUEUES, JobLog, JobStatus
from webapp.models.users import User
from webapp.services.jobs import (
    FailedFilters,
    delete_finished_jobs,
    failed_count,
    failed_jobs_query,
)
from webapp.services.jobs.search import duration_seconds
from webapp.services.jobs.stats import fold_job_count_changes
from webapp.services.ownership import Viewer, visible_jobs


def scanned_stats(viewer: Viewer | None) -> dict:
    """What /api/job-logs/stats said when it aggregated the whole table (its former query)."""
    visible = visible_jobs(viewer)
    by_status = {status.value: 0 for status in JobStatus}
    for status, count in db.session.execute(
        select(JobLog.status, func.count()).where(visible).group_by(JobLog.status)
    ):
        by_status[status] = count
    by_queue = {q: {s.value: 0 for s in JobStatus} for q in QUEUES}
    for queue, status, count in db.session.execute(
        select(JobLog.queue, JobLog.status, func.count())
        .where(visible)
        .group_by(JobLog.queue, JobLog.status)
    ):
        by_queue.setdefault(queue, {s.value: 0 for s in JobStatus})[status] = count
    duration = duration_seconds()
    done = JobLog.status == JobStatus.COMPLETED.value

    def rounded(value):
        return None if value is None else round(float(value), 3)

    by_task = [
        {
            "task": row.task,
            "total": row.total,
            "completed": row.completed or 0,
            "failed": row.failed or 0,
            "avg_duration_s": rounded(row.avg),
        }
        for row in db.session.execute(
            select(
                JobLog.task,
                func.count().label("total"),
                func.sum(func.cast(done, db.Integer)).label("completed"),
                func.sum(func.cast(JobLog.status == "failed", db.Integer)).label("failed"),
                func.avg(duration).filter(done).label("avg"),
            )
            .where(visible)
            .group_by(JobLog.task)
            .order_by(JobLog.task)
        )
    ]
    failed_last_hour = db.session.scalar(
        select(func.count()).where(
            JobLog.status == "failed", JobLog.finished_at >= utcnow() - timedelta(hours=1), visible
        )
    )
    return {
        "by_status": by_status,
        "by_queue": by_queue,
        "by_task": by_task,
        "failed_last_hour": failed_last_hour,
        "avg_duration_s": rounded(
            db.session.scalar(select(func.avg(duration)).where(done, visible))
        ),
    }


def assert_stats_match_a_scan(client, bearer, users) -> None:
    db.session.commit()
    for role, viewer in [
        ("admin", Viewer(users["admin"].id, True)),
        ("operator", Viewer(users["operator"].id, False)),
        ("viewer", Viewer(users["viewer"].id, False)),
    ]:
        response = client.get("/api/job-logs/stats", headers=bearer(role))
        assert response.status_code == 200
        assert response.get_json() == scanned_stats(viewer), role
        queues = client.get("/api/queues", headers=bearer(role)).get_json()
        assert queues["failed"] == scanned_failed(FailedFilters(viewer=viewer)), role
        for task in ("sample_job", "old_1"):
            for queue in (None, "low"):
                filters = FailedFilters(task=task, queue=queue, viewer=viewer)
                assert failed_count(filters) == scanned_failed(filters), (role, task, queue)


def scanned_failed(filters: FailedFilters) -> int:
    """How many jobs the failed list holds, counted from the list itself."""
    return db.session.scalar(
        select(func.count()).select_from(failed_jobs_query(filters).subquery())
    )


def test_stats_stay_what_a_scan_of_the_job_logs_gives(client, bearer, users, runner):
    operator, viewer = users["operator"], users["viewer"]
    headers = {role: bearer(role) for role in ("admin", "operator", "viewer")}
    # Jobs of three owners (nobody, the operator, the viewer) that run, fail, wait and cancel.
    for owner in (None, operator.id, viewer.id):
        sample_job.dispatch(steps=1, step_seconds=0, user_id=owner)
        sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1, user_id=owner)
        sample_job.dispatch(delay=3600, user_id=owner, queue="high")
        sample_job.dispatch(delay=3600, user_id=owner, queue="low")
    assert_stats_match_a_scan(client, lambda role: headers[role], users)

    # Old finished jobs with known durations, some of them ready to be pruned.
    now = utcnow()
    for index in range(12):
        finished = now - timedelta(days=40 if index % 2 else 1, seconds=index)
        db.session.add(
            JobLog(
                task=f"old_{index % 3}",
                queue=QUEUES[index % 3],
                status=("completed", "failed", "cancelled")[index % 3],
                user_id=(None, operator.id, viewer.id)[index % 3],
                created_at=finished - timedelta(seconds=9),
                started_at=None if index == 3 else finished - timedelta(seconds=1.25 * index),
                finished_at=finished,
            )
        )
    db.session.commit()
    assert_stats_match_a_scan(client, lambda role: headers[role], users)

    # Pending jobs cancelled, failed ones retried, progress reported, a job moved to a queue.
    pending = db.session.scalars(select(JobLog.id).where(JobLog.status == "pending")).all()
    assert (
        client.post(f"/api/job-logs/{pending[0]}/cancel", headers=headers["operator"]).status_code
        == 200
    )
    failed = db.session.scalars(select(JobLog.id).where(JobLog.status == "failed")).all()
    assert client.post(
        f"/api/job-logs/{failed[0]}/retry", headers=headers["operator"]
    ).status_code in (200, 201, 202)
    db.session.execute(update(JobLog).where(JobLog.id == pending[1]).values(progress=40))
    db.session.execute(update(JobLog).where(JobLog.id == pending[2]).values(queue="default"))
    assert_stats_match_a_scan(client, lambda role: headers[role], users)
    fold_job_count_changes()
    assert_stats_match_a_scan(client, lambda role: headers[role], users)

    # A prune, a delete, a flush of the failed list and a user's deletion (their jobs stay,
    # owned by nobody).
    assert client.delete("/api/job-logs/cleanup?days=30", headers=headers["admin"]).get_json() == {
        "deleted": 6
    }
    assert_stats_match_a_scan(client, lambda role: headers[role], users)
    finished = db.session.scalar(select(JobLog.id).where(JobLog.status == "completed"))
    assert delete_finished_jobs([finished]) == 1
    assert runner.invoke(args=["queue", "flush", "--yes"]).exit_code == 0
    assert_stats_match_a_scan(client, lambda role: headers[role], users)
    operator_id, viewer_id = operator.id, viewer.id
    db.session.execute(delete(User).where(User.id == operator_id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).where(JobLog.user_id == operator_id)) == 0
    stats = client.get("/api/job-logs/stats", headers=headers["admin"]).get_json()
    assert stats == scanned_stats(Viewer(None, True))
    assert client.get("/api/job-logs/stats", headers=headers["viewer"]).get_json() == scanned_stats(
        Viewer(viewer_id, False)
    )
    fold_job_count_changes()
    assert client.get("/api/job-logs/stats", headers=headers["viewer"]).get_json() == scanned_stats(
        Viewer(viewer_id, False)
    )
