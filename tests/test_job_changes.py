"""Retry with changes: arguments checked against the task's signature, the difference shown."""

import pytest
from sqlalchemy import func, select

from tasks.samples import sample_job
from webapp.exceptions import Invalid
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.services.job_changes import (
    arguments_by_name,
    changes_from_original,
    retry_with_changes,
)
from webapp.services.jobs import JobError


def failed_job() -> JobLog:
    job_id = sample_job.dispatch(steps=2, step_seconds=0, fail_at_step=2, tags=["acme"])
    return db.session.get(JobLog, job_id)


def test_a_retry_with_changes_runs_with_them_and_shows_the_difference(app):
    original = failed_job()
    assert arguments_by_name(original) == {"steps": 2, "step_seconds": 0, "fail_at_step": 2}
    new_id = retry_with_changes(original.id, {"fail_at_step": None})
    again = db.session.get(JobLog, new_id)
    assert again.status == "completed" and again.retry_of == original.id
    assert again.tags == ["acme"]
    assert changes_from_original(again) == [("fail_at_step", 2, None)]
    assert changes_from_original(original) == []
    with pytest.raises(JobError, match="already retried"):
        retry_with_changes(original.id, {"steps": 3})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, "sample_job takes no argument 'colour'"),
        ({"steps": "three"}, 'steps must be int, not "three"'),
        ({"step_seconds": True}, "step_seconds must be float, not true"),
        ("not an object", "kwargs must be an object"),
    ],
)
def test_changes_that_do_not_fit_queue_nothing(app, changes, message):
    original = failed_job()
    before = db.session.scalar(select(func.count()).select_from(JobLog))
    with pytest.raises(Invalid) as caught:
        retry_with_changes(original.id, changes)
    assert message in str(caught.value)
    assert db.session.scalar(select(func.count()).select_from(JobLog)) == before


def test_only_failed_or_cancelled_jobs_can_be_retried_with_changes(app):
    done = sample_job.dispatch(steps=1, step_seconds=0)
    with pytest.raises(JobError, match="only failed or cancelled"):
        retry_with_changes(done, {"steps": 2})
