"""Failure groups: failed jobs folded by task, error class and masked message."""

from datetime import timedelta

import pytest

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.services.failure_groups import (
    error_class,
    failure_groups,
    group_job_ids,
    masked_message,
)
from webapp.services.jobs import FailedFilters


@pytest.mark.parametrize(
    ("error", "cls", "message"),
    [
        ("TimeoutError: timed out after 30 s on series 4711", "TimeoutError",
         "timed out after <n> s on series <n>"),
        ("KeyError: 'a3f0c2d4-1b2c-4d5e-8f90-0123456789ab'", "KeyError", "'<id>'"),
        ("ValueError: bad 0xdeadbeef at 3.5", "ValueError", "bad <hex> at <n>"),
        ("no class here 12", "(no class)", "no class here <n>"),
        (None, "(no error)", ""),
        ("HTTPStatusError: 404 for url v2\nTraceback...", "HTTPStatusError", "<n> for url v2"),
    ],
)  # fmt: skip
def test_error_class_and_masked_message(error, cls, message):
    assert error_class(error) == cls
    assert masked_message(error) == message


def fail(task: str, error: str, ago: timedelta = timedelta(0), **fields) -> JobLog:
    job = JobLog(task=task, status="failed", error=error, finished_at=utcnow() - ago, **fields)
    db.session.add(job)
    db.session.commit()
    return job


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
    assert group_job_ids(top.key) == sorted(top.job_ids) and len(top.job_ids) == 3
    assert group_job_ids(groups[2].key) == [other.id]
    assert group_job_ids("no-such-group") == []
    assert [g.task for g in failure_groups(FailedFilters(task="import"))] == ["import"]
