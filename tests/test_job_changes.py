"""Retry with changes: arguments checked against the task's signature, the difference shown."""

import json

import pytest
from sqlalchemy import func, select

from jobkit import tracked_task
from jobkit.redaction import REDACTED
from tasks.samples import sample_job
from webapp.exceptions import Invalid
from webapp.extensions import db
from webapp.models.audit import AuditEntry
from webapp.models.jobs import JobLog
from webapp.services.job_changes import (
    arguments_by_name,
    changes_from_original,
    retry_with_changes,
    shown_arguments,
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


# -- secrets ----------------------------------------------------------------------------------

RECEIVED: list[dict] = []


@tracked_task(secret_args=("dsn",))
def secret_sync(url: str, dsn: str = "", note: dict | None = None, fail: bool = True) -> str:
    """Records what it was given, then fails unless told not to."""
    RECEIVED.append({"url": url, "dsn": dsn, "note": note})
    if fail:
        raise RuntimeError("upstream said no")
    return "synced"


@pytest.fixture
def received():
    RECEIVED.clear()
    yield RECEIVED
    RECEIVED.clear()


def test_a_secret_the_log_did_not_keep_is_never_sent_as_the_mask(app, received):
    job_id = secret_sync.dispatch("https://api.example/x", dsn="postgres://u:hunter22@db/x")
    job = db.session.get(JobLog, job_id)
    shown = shown_arguments(job)
    assert shown["dsn"] == REDACTED and "hunter22" not in json.dumps(shown)
    received.clear()
    before = db.session.scalar(select(func.count()).select_from(JobLog))
    for changes in ({"fail": False}, {"fail": False, "dsn": REDACTED}):
        with pytest.raises(Invalid, match=r"dsn holds a secret that the job log does not keep"):
            retry_with_changes(job_id, changes)
    with pytest.raises(Invalid, match="dsn holds a secret"):  # the whole form sent back as shown
        retry_with_changes(job_id, {**shown, "fail": False}, replace=True)
    assert received == [] and db.session.scalar(select(func.count()).select_from(JobLog)) == before

    new_id = retry_with_changes(job_id, {"fail": False, "dsn": "postgres://u:n3w-s3cret@db/x"})
    assert received == [
        {"url": "https://api.example/x", "dsn": "postgres://u:n3w-s3cret@db/x", "note": None}
    ]
    stored = json.dumps([db.session.get(JobLog, new_id).arguments, audit_rows()])
    assert "n3w-s3cret" not in stored and "hunter22" not in stored
    assert audit_rows()[0]["dsn"] == [REDACTED, "[changed]"]
    assert changes_from_original(db.session.get(JobLog, new_id)) == [("fail", True, False)]


def test_a_redacted_value_sent_back_unchanged_keeps_what_the_log_kept(app, received):
    """A row whose arguments hold a secret in the clear (written before redaction, or by hand):
    the form shows it redacted, and sent back as shown it stays the original secret."""
    job = JobLog(
        task="secret_sync",
        status="failed",
        arguments={"args": ["https://api.example/y"], "kwargs": {"note": {"password": "p4ss"}}},
    )
    db.session.add(job)
    db.session.commit()
    shown = shown_arguments(job)
    assert shown["note"] == {"password": REDACTED}
    new_id = retry_with_changes(job.id, {**shown, "fail": False}, replace=True)
    assert received == [{"url": "https://api.example/y", "dsn": "", "note": {"password": "p4ss"}}]
    assert db.session.get(JobLog, new_id).status == "completed"
    assert "p4ss" not in json.dumps(audit_rows())


def test_a_url_with_its_password_masked_must_be_typed_again(app, received):
    job_id = secret_sync.dispatch("https://user:hunter22@api.example/z")
    received.clear()
    with pytest.raises(Invalid, match="url holds a secret"):
        retry_with_changes(job_id, {"fail": False})
    retry_with_changes(job_id, {"fail": False, "url": "https://user:again@api.example/z"})
    assert received[0]["url"] == "https://user:again@api.example/z"


def audit_rows() -> list[dict]:
    return [
        entry.changes
        for entry in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "job.retry_with_changes")
        )
    ]
