"""Several consumers on the same queue and database at once (SQLite, and Redis + PostgreSQL
when CI provides them): every job runs exactly once, in priority order per consumer, unique
keys hold, and both consumers beat and share the work."""

from sqlalchemy import func, select

from jobkit import Call
from tasks.samples import sample_job
from tasks.series import import_series_data
from tests.e2e.conftest import wait_for
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.series import Series
from webapp.services import consumers


def test_two_consumers_share_the_work_and_run_each_job_once(e2e):
    calls = [Call(kwargs={"steps": 1, "step_seconds": 0.02}) for _ in range(300)]
    ids = sample_job.dispatch_many(calls)
    first, second = e2e["start"](workers=2), e2e["start"](workers=2)
    wait_for(lambda: len(consumers.live_consumers()) == 2, what="two consumers beating")

    def finished() -> int:
        return db.session.scalar(
            select(func.count()).where(JobLog.id.in_(ids), JobLog.status == "completed")
        )

    wait_for(lambda: finished() == 300, timeout=90, what="300 jobs completed")
    rows = db.session.scalars(select(JobLog).where(JobLog.id.in_(ids))).all()
    assert {row.attempts for row in rows} == {1}  # none ran twice
    assert all(row.message == "Counted 1 steps." for row in rows)
    by_consumer = {row.consumer_id for row in rows}
    assert len(by_consumer) == 2, by_consumer  # both took a share
    assert "Traceback" not in first.output() + second.output()


def test_a_unique_job_dispatched_from_two_places_runs_once(e2e):
    db.session.add(Series(id=7, name="Seven", tvmaze_id=7))
    db.session.commit()
    first = import_series_data.dispatch(7, source=("series", 7))
    again = import_series_data.dispatch(7, source=("series", 7))
    assert first == again
    e2e["start"](workers=2)
    e2e["start"](workers=2)
    wait_for(lambda: db.session.get(JobLog, first).status in ("completed", "failed"), timeout=60)
    assert db.session.scalar(select(func.count()).where(JobLog.task == "import_series_data")) == 1
