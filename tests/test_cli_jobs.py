"""The jobs and queue commands through Click's runner."""

import json
from datetime import timedelta

from jobkit import Call
from tasks.samples import sample_job
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.series import Series
from webapp.services import batches


def test_jobs_list_prints_a_table_or_the_api_objects(runner, client, bearer):
    done = sample_job.dispatch(steps=1, step_seconds=0)
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    table = runner.invoke(args=["jobs", "list"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:4] == ["ID", "TASK", "QUEUE", "STATUS"]
    assert lines[1].split()[:4] == [str(failed), "sample_job", "default", "failed"]

    as_json = json.loads(runner.invoke(args=["jobs", "list", "--json"]).output)
    api = client.get("/api/job-logs", headers=bearer("viewer")).get_json()["items"]
    assert as_json == api
    only = json.loads(
        runner.invoke(args=["jobs", "list", "--status", "completed", "--json"]).output
    )
    assert [job["id"] for job in only] == [done]
    assert runner.invoke(args=["jobs", "list", "--limit", "1", "--json"]).output.count('"id"') == 1


def test_bad_input_is_one_line_and_exit_1_or_2(runner):
    bad_status = runner.invoke(args=["jobs", "list", "--status", "melted"])
    assert bad_status.exit_code == 1
    assert bad_status.output.startswith("Error: unknown status 'melted'")
    assert "Traceback" not in bad_status.output
    missing = runner.invoke(args=["jobs", "show", "4242"])
    assert (
        missing.exit_code == 1
        and missing.output.strip() == "Error: job #4242 was deleted or never existed"
    )
    assert runner.invoke(args=["jobs", "show", "abc"]).exit_code == 2
    assert runner.invoke(args=["jobs", "prune"]).exit_code == 2


def test_jobs_list_finds_words_and_times(runner, app):
    old = sample_job.dispatch(steps=2, step_seconds=0, fail_at_step=2)
    sample_job.dispatch(steps=1, step_seconds=0)
    found = json.loads(
        runner.invoke(args=["jobs", "list", "--q", "SampleJobFailure", "--json"]).output
    )
    assert [job["id"] for job in found] == [old]
    future = runner.invoke(args=["jobs", "list", "--since", "2999-01-01T00:00:00Z", "--json"])
    assert json.loads(future.output) == []
    past = runner.invoke(args=["jobs", "list", "--until", "2000-01-01T00:00:00+05:00"])
    assert past.exit_code == 0 and past.output.strip() == "No jobs."
    bad = runner.invoke(args=["jobs", "list", "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since must be an ISO 8601 time" in bad.output
    nul = runner.invoke(args=["jobs", "list", "--q", "a\x00b"])
    assert nul.exit_code == 2 and "must not contain a NUL" in nul.output


def test_jobs_show_cancel_and_retry(runner):
    failed = sample_job.dispatch(steps=2, step_seconds=0, fail_at_step=2)
    shown = runner.invoke(args=["jobs", "show", str(failed)])
    assert shown.output.startswith(f"Job #{failed}  sample_job  [failed]")
    assert "  attempts   1 of 1\n" in shown.output
    assert "  error      SampleJobFailure: " in shown.output
    assert "  traceback\n    Traceback (most recent call last):" in shown.output
    assert "{'" not in shown.output  # a readable block, not a Python dict
    one = json.loads(runner.invoke(args=["jobs", "show", str(failed), "--json"]).output)
    assert one["id"] == failed and one["status"] == "failed"

    retried = runner.invoke(args=["jobs", "retry", str(failed)])
    assert retried.exit_code == 0 and f"Job {failed} retried as job" in retried.output
    assert runner.invoke(args=["jobs", "retry", str(failed)]).exit_code == 1

    pending = sample_job.dispatch(delay=3600)
    cancelled = runner.invoke(args=["jobs", "cancel", str(pending)])
    assert cancelled.exit_code == 0 and cancelled.output.strip() == f"Job {pending} cancelled."
    again = runner.invoke(args=["jobs", "cancel", str(pending)])
    assert again.exit_code == 1 and "only pending or running" in again.output


def test_jobs_prune_deletes_only_old_finished_jobs(runner):
    old = sample_job.dispatch(steps=1, step_seconds=0)
    new = sample_job.dispatch(steps=1, step_seconds=0)
    db.session.get(JobLog, old).finished_at = utcnow() - timedelta(days=10)
    db.session.commit()
    result = runner.invoke(args=["jobs", "prune", "--days", "7"])
    assert result.output.strip() == "Deleted 1 finished job logs older than 7 days."
    db.session.expire_all()
    assert db.session.get(JobLog, old) is None and db.session.get(JobLog, new) is not None


def test_queue_stats_failed_retry_and_flush(runner):
    sample_job.dispatch(delay=3600, queue="low")
    failures = [sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1) for _ in range(2)]
    stats = json.loads(runner.invoke(args=["queue", "stats", "--json"]).output)
    assert stats == {"high": 0, "default": 0, "low": 1, "running": 0, "failed": 2}
    assert "low" in runner.invoke(args=["queue", "stats"]).output

    listed = json.loads(runner.invoke(args=["queue", "failed", "--json"]).output)
    assert sorted(job["id"] for job in listed) == failures

    retried = runner.invoke(args=["queue", "retry", str(failures[0])])
    assert retried.output.strip() == "Retried 1 failed job(s)."
    listed = json.loads(runner.invoke(args=["queue", "failed", "--json"]).output)
    assert failures[0] not in [job["id"] for job in listed] and len(listed) == 2

    everything = runner.invoke(args=["queue", "retry", "all"])
    assert everything.output.splitlines() == [
        "Retrying 2 failed job(s) found now; new failures wait for the next retry.",
        "Retried 2 failed job(s).",
    ]
    assert runner.invoke(args=["queue", "retry", "some"]).exit_code == 2

    declined = runner.invoke(args=["queue", "flush"], input="n\n")
    assert declined.exit_code == 1 and db.session.query(JobLog).filter_by(status="failed").count()
    assert "Delete the 2 failed job record(s) that `queue failed` lists?" in declined.output
    flushed = runner.invoke(args=["queue", "flush", "--yes"])
    assert flushed.output.strip() == "Deleted 2 failed job record(s)."  # the 2 listed of 5
    assert runner.invoke(args=["queue", "failed"]).output.strip() == "No jobs."
    # the retried ones stay (their retries are gone) and do not come back onto the list
    assert db.session.query(JobLog).filter_by(status="failed").count() == 3
    assert json.loads(runner.invoke(args=["queue", "stats", "--json"]).output)["failed"] == 0
    assert runner.invoke(args=["queue", "flush"]).output.strip() == "No failed jobs to flush."


def test_imports_exports_and_batches_list_as_table_and_json(runner, tmp_path, app):
    assert runner.invoke(args=["imports", "list"]).output.strip() == "No imports."
    assert runner.invoke(args=["batches", "list"]).output.strip() == "No batches."
    path = tmp_path / "series.csv"
    path.write_text("name,tvmaze_id,tvdb_id\nThe Wire,179,\n")
    runner.invoke(args=["imports", "run", str(path), "--importer", "series"])
    table = runner.invoke(args=["imports", "list"]).output.splitlines()
    assert table[0].split() == ["ID", "IMPORTER", "FILE", "STATUS", "ROWS", "REFUSED", "CREATED"]
    assert table[1].split()[:6] == ["1", "series", "series.csv", "completed", "1/1", "0"]
    [one] = json.loads(runner.invoke(args=["imports", "list", "--json"]).output)
    assert one["id"] == 1 and one["importer"] == "series" and one["total_rows"] == 1

    out = tmp_path / "out.csv"
    runner.invoke(
        args=["exports", "run", "--dataset", "series", "--format", "csv", "--output", str(out)]
    )
    [export] = json.loads(runner.invoke(args=["exports", "list", "--json"]).output)
    assert export["dataset"] == "series" and export["format"] == "csv"
    assert runner.invoke(args=["exports", "list"]).output.splitlines()[1].split()[:4] == [
        str(export["id"]),
        "series",
        "csv",
        export["status"],
    ]

    batch = batches.create_batch("nightly", 2)
    sample_job.dispatch_many([Call(kwargs={"steps": 1, "step_seconds": 0})] * 2, batch_id=batch.id)
    [listed] = json.loads(runner.invoke(args=["batches", "list", "--json"]).output)
    assert listed["name"] == "nightly" and listed["total"] == 2 and listed["done"] == 2
    row = runner.invoke(args=["batches", "list"]).output.splitlines()[1].split()
    assert row[:6] == [str(batch.id), "nightly", "2", "2", "0", "100%"]


def test_long_work_reports_progress_as_plain_lines_off_a_terminal(runner, tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("name,tvmaze_id,tvdb_id\n" + "".join(f"S{i},{i},\n" for i in range(1, 40)))
    result = runner.invoke(args=["imports", "run", str(path), "--importer", "series"])
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("Importing")]
    assert progress and progress[-1] == "Importing series.csv: 39 of 39 rows read, 0 refused"
    assert "Imported series.csv: 39 rows, 39 created" in result.stdout
    out = runner.invoke(args=["exports", "run", "--dataset", "series", "--format", "jsonl"])
    assert out.exit_code == 0 and len(out.stdout.splitlines()) == 1  # only the file's path
    assert out.stdout.strip().endswith(".jsonl")


def test_jobs_show_gives_every_time_one_way_and_exports_dates_in_the_commands_words(runner):
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    job = db.session.get(JobLog, failed)
    job.attempt_errors = [{"attempt": 1, "error": "Timeout", "at": "2026-01-15T12:00:00Z"}]
    db.session.commit()
    shown = runner.invoke(args=["jobs", "show", str(failed)]).output
    assert "  attempt 1 failed at 2026-01-15 12:00:00 UTC: Timeout\n" in shown
    assert "T12:00" not in shown
    refused = runner.invoke(
        args=["exports", "run", "--dataset", "series", "--format", "csv", "--since", "May 1"]
    )
    assert refused.exit_code == 2 and "--since" in refused.output
    assert "filters." not in refused.output


def test_jobs_show_names_the_record_and_the_user_as_the_page_does(runner, users):
    show = Series(name="The Simpsons", tvmaze_id=83)
    db.session.add(show)
    db.session.commit()
    job = JobLog(task="sample_job", status="completed", user_id=users["operator"].id)
    job.source_type, job.source_id = "series", show.id
    db.session.add(job)
    db.session.commit()
    shown = runner.invoke(args=["jobs", "show", str(job.id)]).output
    assert f"  record     The Simpsons (series {show.id})\n" in shown
    assert "  user       operator@example.com\n" in shown
