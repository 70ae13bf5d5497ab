"""Failure groups: failed jobs folded by task, error class and masked message, in SQL."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.exceptions import NotFound
from webapp.extensions import db
from webapp.models.audit import AuditEntry
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.services.failure_groups import (
    delete_group,
    error_class,
    failure_group,
    failure_groups,
    group_job_ids,
    masked_message,
    retry_group,
)
from webapp.services.jobs import FailedFilters
from webapp.services.ownership import Viewer

MASKING = [
    ("TimeoutError: timed out after 30 s on series 4711", "TimeoutError",
     "timed out after <n> s on series <n>"),
    ("KeyError: 'a3f0c2d4-1b2c-4d5e-8f90-0123456789ab'", "KeyError", "'<id>'"),
    ("KeyError: 'A3F0C2D4-1B2C-4D5E-8F90-0123456789AB'", "KeyError", "'<id>'"),
    ("ValueError: bad 0xdeadbeef at 3.5", "ValueError", "bad <hex> at <n>"),
    ("ValueError: digest 0123456789abcdef0123 of v2 x1", "ValueError", "digest <id> of v2 x1"),
    ("no class here 12", "(no class)", "no class here <n>"),
    ("httpx.ReadTimeout: 12", "(no class)", "httpx.ReadTimeout: <n>"),
    ("", "(no error)", ""),
    (None, "(no error)", ""),
    ("HTTPStatusError: 404 for url v2\nTraceback 77", "HTTPStatusError", "<n> for url v2"),
    ("  OSError :   disk 9 full  \r\nmore", "OSError", "disk <n> full"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "cls", "message"), MASKING)
def test_error_class_and_masked_message(error, cls, message):
    assert error_class(error) == cls
    assert masked_message(error) == message


def fail(task: str, error: str | None, ago: timedelta = timedelta(0), **fields) -> JobLog:
    fields.setdefault("arguments", {"args": [], "kwargs": {"steps": 1, "step_seconds": 0}})
    job = JobLog(task=task, status="failed", error=error, finished_at=utcnow() - ago, **fields)
    db.session.add(job)
    db.session.commit()
    return job


def test_the_database_masks_as_the_python_functions_do(app):
    """The grouping query on this backend gives each error the class and message above."""
    for i, (error, _, _) in enumerate(MASKING):
        fail(f"task{i}", error)
    found = {g.task: (g.error_class, g.message) for g in failure_groups()}
    assert found == {f"task{i}": (cls, msg) for i, (_, cls, msg) in enumerate(MASKING)}


def test_groups_count_first_last_and_example_and_skip_retried_jobs(app):
    old = fail("sync", "TimeoutError: timed out on series 1", timedelta(hours=2))
    fail("sync", "TimeoutError: timed out on series 2", timedelta(hours=1))
    newest = fail("sync", "TimeoutError: timed out on series 3")
    other = fail("sync", "KeyError: 'name'")
    fail("import", "TimeoutError: timed out on series 9")
    retried = fail("sync", "TimeoutError: timed out on series 4")
    db.session.add(JobLog(task="sync", status="completed", retry_of=retried.id))
    db.session.commit()
    groups = failure_groups()
    assert [(g.task, g.error_class, g.count) for g in groups] == [
        ("sync", "TimeoutError", 3),
        ("import", "TimeoutError", 1),
        ("sync", "KeyError", 1),
    ]
    top = groups[0]
    assert top.message == "timed out on series <n>"
    assert top.first_seen == old.finished_at and top.last_seen == newest.finished_at
    assert top.example_id == newest.id
    assert top.example_error == "TimeoutError: timed out on series 3"
    assert len(group_job_ids(top)) == 3 and group_job_ids(top) == sorted(group_job_ids(top))
    assert group_job_ids(groups[2]) == [other.id]
    assert failure_group(top.key).count == 3
    with pytest.raises(NotFound, match="no failure group 'no-such-group'"):
        failure_group("no-such-group")
    assert [g.task for g in failure_groups(FailedFilters(task="import"))] == ["import"]
    assert len(failure_groups(limit=2)) == 2


def test_retry_group_acts_on_what_matches_now_and_is_audited(app):
    for n in range(3):
        fail("sample_job", f"SampleJobFailure: failed at step {n} of 5")
    fail("sample_job", "OtherError: 1")
    key = failure_groups()[0].key
    fail("sample_job", "SampleJobFailure: failed at step 9 of 9")  # joined after the page
    done = retry_group(key, user_id=None)
    assert (done.matched, done.done, done.problems) == (4, 4, [])
    again = db.session.scalars(select(JobLog).where(JobLog.id.in_(done.new_ids))).all()
    assert {job.retry_of for job in again} == set(range(1, 4)) | {5}
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "failed.retry_group")
    ).one()
    assert entry.count == 4 and entry.filters["group"] == key
    assert entry.filters["message"] == "failed at step <n> of <n>"
    with pytest.raises(NotFound):  # the group has left the failed list
        retry_group(key)


def test_delete_group_deletes_only_that_group_in_chunks_and_is_audited(app):
    ids = [fail("sync", f"TimeoutError: took {n} s").id for n in range(7)]
    keep = fail("sync", "KeyError: 'x'")
    key = failure_groups()[0].key
    done = delete_group(key)
    assert (done.matched, done.done) == (7, 7)
    assert db.session.scalar(select(func.count()).where(JobLog.id.in_(ids))) == 0
    assert db.session.get(JobLog, keep.id) is not None
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "failed.delete_group")
    ).one()
    assert entry.count == 7 and entry.filters["task"] == "sync"


def test_a_viewer_groups_only_the_jobs_they_may_see(app, users):
    mine, theirs = users["operator"].id, users["admin"].id
    fail("sample_job", "TimeoutError: 1", user_id=mine)
    fail("sample_job", "TimeoutError: 2", user_id=theirs)
    fail("sample_job", "TimeoutError: 3")  # nobody's
    fail("only_theirs", "KeyError: 'k'", user_id=theirs)
    me = FailedFilters(viewer=Viewer(mine, False))
    groups = failure_groups(me)
    assert [(g.task, g.count) for g in groups] == [("sample_job", 2)]
    theirs_key = next(g.key for g in failure_groups() if g.task == "only_theirs")
    with pytest.raises(NotFound):
        failure_group(theirs_key, me)
    done = retry_group(groups[0].key, me, mine)
    assert (done.matched, done.done) == (2, 2)
    assert [g.count for g in failure_groups() if g.task == "sample_job"] == [1]  # theirs stays
