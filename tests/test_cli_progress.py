"""Long command-line work reports progress: a bar on a terminal, plain lines when the output
is a pipe or a log; work that takes one round trip reports nothing (its result line says it)."""

import contextlib
import sys

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, insert, select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.series import Series

MANY = 1200  # more than one chunk of retries (500) and of dispatches (1000)


class TerminalRunner(FlaskCliRunner):
    """Click's runner whose stderr says it is a terminal, as a user's shell is."""

    @contextlib.contextmanager
    def isolation(self, *args, **kwargs):
        with super().isolation(*args, **kwargs) as streams:
            sys.stderr.isatty = lambda: True
            yield streams


@pytest.fixture
def runners(queued):
    """A plain runner and a terminal one, on an app whose jobs wait in a queue."""
    return {"pipe": queued.test_cli_runner(), "terminal": TerminalRunner(queued)}


def failed_jobs(count: int) -> None:
    now = utcnow()
    rows = [
        {
            "task": "sample_job",
            "queue": "default",
            "status": "failed",
            "arguments": {"args": [], "kwargs": {"steps": 1, "step_seconds": 0}},
            "payload": {},
            "error": "RuntimeError: boom",
            "attempts": 1,
            "max_attempts": 1,
            "created_at": now,
            "finished_at": now,
        }
        for _ in range(count)
    ]
    db.session.execute(insert(JobLog), rows)
    db.session.commit()


def new_series(count: int, start: int = 1) -> None:
    rows = [
        {"name": f"Show {n}", "tvmaze_id": n, "upstream_state": "ok"}
        for n in range(start, start + count)
    ]
    db.session.execute(insert(Series), rows)
    db.session.commit()


def test_retry_all_prints_progress_lines_when_not_a_terminal(runners):
    failed_jobs(MANY)
    result = runners["pipe"].invoke(args=["queue", "retry", "all"])
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("Retrying 1,200")]
    assert progress == [
        "Retrying 1,200 job(s): 500 of 1,200",
        "Retrying 1,200 job(s): 1,000 of 1,200",
        "Retrying 1,200 job(s): 1,200 of 1,200",
    ]
    assert "\r" not in result.stderr and "Retried 1200 failed job(s)." in result.stdout
    assert db.session.scalar(select(func.count()).where(JobLog.status == "pending")) == MANY


def test_retry_all_draws_a_bar_on_a_terminal(runners):
    failed_jobs(MANY)
    result = runners["terminal"].invoke(args=["queue", "retry", "all"])
    assert result.exit_code == 0, result.output
    assert "Retrying 1,200 job(s)" in result.stderr and "100%" in result.stderr
    assert "#" in result.stderr  # the bar itself
    assert "of 1,200" not in result.stderr  # no plain lines


def test_a_few_retries_report_no_progress(runners):
    failed_jobs(3)
    for runner in runners.values():
        result = runner.invoke(args=["queue", "retry", "all"])
        assert result.stderr == ""
        assert result.stdout.splitlines()[-1] in (
            "Retried 3 failed job(s).",
            "No failed jobs to retry.",
        )


def test_import_missing_data_reports_its_dispatch(runners):
    new_series(MANY)
    result = runners["pipe"].invoke(args=["series", "import-missing-data"])
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if "queued" in line] == [
        "Queueing 1,200 series data jobs: 1,000 of 1,200 queued",
        "Queueing 1,200 series data jobs: 1,200 of 1,200 queued",
    ]
    assert result.stdout.strip() == "Dispatched 1200 series data jobs."
    # one batch for the whole dispatch, though it was queued in two rounds
    assert db.session.scalar(select(func.count(func.distinct(JobLog.batch_id)))) == 1
    new_series(MANY, start=MANY + 1)
    bar = runners["terminal"].invoke(args=["series", "import-missing-data"])
    assert "Queueing 1,200 series data jobs" in bar.stderr and "100%" in bar.stderr


def test_check_data_updates_reports_its_dispatch(runners, queued):
    # TVmaze cannot be asked what changed (nothing listens there), so every stale row is queued
    queued.config["TVMAZE_URL"] = "http://127.0.0.1:9"
    queued.extensions.pop("tvmaze", None)
    new_series(MANY)
    db.session.execute(
        Series.__table__.update().values(data_last_updated_at=utcnow().replace(year=2020))
    )
    db.session.commit()
    result = runners["pipe"].invoke(args=["series", "check-data-updates", "--hours", "1"])
    assert result.exit_code == 0, result.output
    assert "could not ask TVmaze what changed" in result.stderr
    assert "Queueing 1,200 series data jobs: 1,200 of 1,200 queued" in result.stderr
    assert result.stdout.startswith("Dispatched 1200 series data jobs;")
