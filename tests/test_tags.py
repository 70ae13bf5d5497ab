"""Tags: labels given at dispatch, by the task itself or by its definition; filtered by tag."""

import json

import pytest
from sqlalchemy import func, select

from jobkit import current_job, tracked_task
from tasks.samples import sample_job
from tasks.transfers import run_import
from webapp.extensions import db
from webapp.models.jobs import JobLog, JobTag
from webapp.services import imports
from webapp.services import jobs as job_service


@tracked_task(queue="default", tags=("tagged-task",))
def labels_itself(extra: str) -> str:
    current_job().tag(extra, "tagged-task")
    return "done"


def test_tags_from_dispatch_definition_and_the_job_itself(app):
    first = labels_itself.dispatch("nightly", tags=["urgent", "urgent", " acme "])
    job = db.session.get(JobLog, first)
    assert job.status == "completed"
    assert job.tags == ["acme", "nightly", "tagged-task", "urgent"]
    assert job.to_dict()["tags"] == job.tags


@pytest.mark.parametrize("bad", ["just-a-string", [""], ["x" * 101], ["a\x00b"], [42]])
def test_bad_tags_are_refused_before_anything_is_queued(app, bad):
    before = db.session.scalar(select(func.count()).select_from(JobLog))
    with pytest.raises((TypeError, ValueError)):
        sample_job.dispatch(steps=1, step_seconds=0, tags=bad)
    assert db.session.scalar(select(func.count()).select_from(JobLog)) == before


def test_a_retry_keeps_the_tags_and_pruning_removes_them(app, runner):
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1, tags=["acme"])
    [retried], problems = job_service.retry_jobs([failed])
    assert problems == [] and db.session.get(JobLog, retried).tags == ["acme"]
    listed = json.loads(runner.invoke(args=["jobs", "list", "--tag", "acme", "--json"]).output)
    assert sorted(job["id"] for job in listed) == sorted([failed, retried])
    assert json.loads(runner.invoke(args=["jobs", "list", "--tag", "none", "--json"]).output) == []
    assert "  tags       acme" in runner.invoke(args=["jobs", "show", str(failed)]).output
    runner.invoke(args=["jobs", "prune", "--days", "0"])
    assert db.session.scalar(select(func.count()).select_from(JobTag)) == 0


def test_the_apps_own_jobs_carry_useful_tags(app, runner, tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("name,tvmaze_id,tvdb_id\nThe Wire,179,\n")
    with open(path, "rb") as stream:
        record = imports.store_upload(stream, "series.csv", "series", None, False)
    job_id = run_import.dispatch(record.id)
    assert db.session.get(JobLog, job_id).tags == ["import", "series"]
