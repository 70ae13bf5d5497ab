"""The audit log: every state change from a page, the API or the CLI writes one row saying who
did what to which record, and only admins read it."""

from __future__ import annotations

import getpass
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tasks.samples import sample_job
from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models.audit import AuditEntry
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.schedules import Schedule
from webapp.services.users import create_user

CLI_ACTOR = f"cli:{getpass.getuser()}"
PRUNE = {"name": "Prune", "command": "jobs prune", "parameters": {"--days": "30"}}


def audit_rows(runner, *args: str) -> list[dict]:
    """The audit rows as `flask audit list --json` prints them, newest first."""
    result = runner.invoke(args=["audit", "list", "--json", "--limit", "500", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def failed_job() -> int:
    return sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)


def the_row(runner, action: str) -> dict:
    rows = audit_rows(runner, "--action", action)
    assert len(rows) == 1, rows
    return rows[0]


# -- each action, from each door ---------------------------------------------------------


def test_retrying_a_job_from_page_api_and_cli_writes_one_row_each(
    app, client, login, bearer, runner
):
    page_job, api_job, cli_job = failed_job(), failed_job(), failed_job()
    login("operator")
    client.post(f"/jobs/{page_job}/retry")
    api = app.test_client()  # no session: the token says who it is
    assert api.post(f"/api/job-logs/{api_job}/retry", headers=bearer("admin")).status_code == 202
    assert runner.invoke(args=["jobs", "retry", str(cli_job)]).exit_code == 0

    rows = audit_rows(runner, "--action", "job.retry")
    assert [(r["actor"], r["channel"], r["target"]) for r in rows] == [
        (CLI_ACTOR, "cli", {"type": "job", "id": cli_job}),
        ("admin@example.com", "api", {"type": "job", "id": api_job}),
        ("operator@example.com", "page", {"type": "job", "id": page_job}),
    ]
    assert rows[1]["ip"] == "127.0.0.1" and rows[0]["ip"] is None
    # Nothing else was recorded but the fixtures' users and token, made outside any door.
    others = [r for r in audit_rows(runner) if r["action"] != "job.retry"]
    assert {r["channel"] for r in others} == {"system"}


def test_cancelling_from_page_api_and_cli(client, login, bearer, runner):
    jobs = [sample_job.dispatch(delay=3600) for _ in range(3)]
    client.post(f"/api/job-logs/{jobs[1]}/cancel", headers=bearer("operator"))
    login("operator")
    client.post(f"/jobs/{jobs[0]}/cancel")
    runner.invoke(args=["jobs", "cancel", str(jobs[2])])
    rows = audit_rows(runner, "--action", "job.cancel")
    assert [(r["channel"], r["target"]["id"]) for r in rows] == [
        ("cli", jobs[2]),
        ("page", jobs[0]),
        ("api", jobs[1]),
    ]
    # A refused cancel changed nothing, so it records nothing.
    runner.invoke(args=["jobs", "cancel", str(jobs[2])])
    assert len(audit_rows(runner, "--action", "job.cancel")) == 3


def test_retry_all_records_the_filter_and_count_and_each_jobs_page_says_who(client, login, runner):
    first, second = failed_job(), failed_job()
    login("operator")
    client.post("/failed/retry", data={"all": "1", "task": "sample_job"})
    row = the_row(runner, "failed.retry_all")
    assert row["actor"] == "operator@example.com" and row["channel"] == "page"
    assert row["count"] == 2 and row["filters"] == {"task": "sample_job"}
    assert row["target"] is None

    for job_id in (first, second):
        page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
        assert re.search(
            r'Retried by operator@example.com at <time datetime="\d{4}-\d\d-\d\d', page
        )
    # The target filter finds a bulk row by any record it acted on.
    assert [r["id"] for r in audit_rows(runner, "--target-type", "job", "--target-id", str(first))]

    third = failed_job()
    result = runner.invoke(args=["queue", "retry", "all"])
    assert result.exit_code == 0
    rows = audit_rows(runner, "--action", "failed.retry_all")
    # The two retries failed again (sample jobs fail as asked), and the third job.
    assert rows[0]["actor"] == CLI_ACTOR and rows[0]["count"] == 3 and rows[0]["filters"] == {}
    assert f"Retried by {CLI_ACTOR}" in client.get(f"/jobs/{third}").get_data(as_text=True)


def test_a_jobs_page_says_who_cancelled_it(app, client, login, runner):
    job_id = sample_job.dispatch(delay=3600)
    login("operator")
    client.post(f"/jobs/{job_id}/cancel")
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Cancelled by operator@example.com at" in page
    admin = app.test_client()
    admin.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    log = admin.get("/audit").get_data(as_text=True)
    assert f'<a href="/jobs/{job_id}">job {job_id}</a>' in log
    assert re.search(r'<a href="/users/\d+">user \d+</a>', log)  # the fixtures' users


def test_flush_delete_and_cleanup(client, login, bearer, runner):
    failed_job(), failed_job()
    login("admin")
    client.post("/failed/flush")
    row = the_row(runner, "failed.flush")
    assert (row["actor"], row["channel"], row["count"]) == ("admin@example.com", "page", 2)

    doomed = failed_job()
    client.post("/failed/delete", data={"ids": [str(doomed)]})
    assert the_row(runner, "job.delete")["target"] == {"type": "job", "id": doomed}

    old = sample_job.dispatch(steps=1, step_seconds=0)
    db.session.get(JobLog, old).finished_at = utcnow() - timedelta(days=10)
    db.session.commit()
    response = client.delete("/api/job-logs/cleanup?days=7", headers=bearer("admin"))
    assert response.get_json() == {"deleted": 1}
    runner.invoke(args=["jobs", "prune", "--days", "7"])
    rows = audit_rows(runner, "--action", "jobs.cleanup")
    assert [(r["channel"], r["count"], r["filters"]) for r in rows] == [
        ("cli", 0, {"days": 7}),
        ("api", 1, {"days": 7}),
    ]


def test_pausing_and_resuming(client, login, bearer, runner):
    login("operator")
    client.post("/pause", data={"kind": "queue", "name": "low", "action": "pause"})
    client.post("/api/queues/low/resume", headers=bearer("operator"))
    runner.invoke(args=["queue", "pause", "sample_job", "--task"])
    runner.invoke(args=["queue", "pause", "sample_job", "--task"])  # already: no change
    rows = [r for r in audit_rows(runner) if r["action"].endswith(("pause", "resume"))]
    assert [(r["action"], r["channel"], r["target"]) for r in rows] == [
        ("task.pause", "cli", {"type": "task", "id": "sample_job"}),
        ("queue.resume", "api", {"type": "queue", "id": "low"}),
        ("queue.pause", "page", {"type": "queue", "id": "low"}),
    ]


def test_schedule_edits_are_recorded_with_before_and_after_and_shown_on_its_page(
    app, client, login, bearer, runner
):
    headers = bearer("operator")
    created = client.post(
        "/api/schedules", json={**PRUNE, "cron": "0 3 * * *"}, headers=headers
    ).get_json()
    sid = created["id"]
    client.patch(f"/api/schedules/{sid}", json={"cron": "0 4 * * *"}, headers=headers)
    login("operator")
    client.post(f"/schedules/{sid}/toggle")
    client.post(f"/schedules/{sid}/run")

    rows = audit_rows(runner, "--target-type", "schedule", "--target-id", str(sid))
    assert [(r["action"], r["channel"]) for r in rows] == [
        ("schedule.run", "page"),
        ("schedule.toggle", "page"),
        ("schedule.update", "api"),
        ("schedule.create", "api"),
    ]
    assert rows[2]["changes"] == {"cron": ["0 3 * * *", "0 4 * * *"]}
    assert rows[1]["changes"] == {"active": [True, False]}
    # The command the schedule ran is the system's doing, not the consumer's OS user's.
    cleanup = the_row(runner, "jobs.cleanup")
    assert (cleanup["actor"], cleanup["channel"]) == ("system", "system")

    page = client.get(f"/schedules/{sid}").get_data(as_text=True)
    edits = page[page.index('id="schedule_edits"') :]
    assert "schedule.update</code> by operator@example.com (api)" in edits
    assert "0 3 * * * → 0 4 * * *" in edits

    assert (
        app.test_client().delete(f"/api/schedules/{sid}", headers=bearer("admin")).status_code
        == 204
    )
    deleted = the_row(runner, "schedule.delete")
    assert deleted["actor"] == "admin@example.com" and deleted["changes"]["name"] == ["Prune", None]
    assert db.session.scalar(select(Schedule)) is None


def test_imports_exports_and_series(client, login, bearer, runner, tmp_path):
    headers = bearer("operator")
    response = client.post(
        "/api/imports",
        data={"importer": "series", "file": (tmp_path.joinpath("s.csv").open("wb+"), "s.csv")},
        headers=headers,
    )
    # An empty file is refused and leaves no row; a real one is recorded.
    assert response.status_code in (400, 422) and audit_rows(runner, "--action", "import.*") == []
    csv = tmp_path / "series.csv"
    csv.write_text("name,tvmaze_id,tvdb_id\nShow,1,\n")
    with csv.open("rb") as f:
        made = client.post(
            "/api/imports", data={"importer": "series", "file": (f, "series.csv")}, headers=headers
        )
    assert made.status_code == 202
    row = the_row(runner, "import.create")
    assert row["target"] == {"type": "import", "id": made.get_json()["id"]}

    client.post("/api/exports", json={"dataset": "series", "format": "csv"}, headers=headers)
    assert the_row(runner, "export.create")["changes"]["dataset"] == "series"

    assert runner.invoke(args=["series", "add", "--tvmaze", "82"]).exit_code == 0
    assert the_row(runner, "series.add")["actor"] == CLI_ACTOR


def test_a_refused_change_records_nothing(runner, users):
    result = runner.invoke(
        args=["users", "create", "--email", "operator@example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 1
    assert audit_rows(runner, "--action", "user.create", "--actor", CLI_ACTOR) == []


# -- reading the log ----------------------------------------------------------------------


@pytest.mark.parametrize("role, status", [("viewer", 403), ("operator", 403), ("admin", 200)])
def test_only_admins_read_the_audit_log(client, login, bearer, role, status):
    login(role)
    assert client.get("/audit").status_code == status
    response = client.get("/api/audit", headers=bearer(role))
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["error"]["code"] == "forbidden"
    nav = client.get("/").get_data(as_text=True)
    assert ('href="/audit"' in nav) == (role == "admin")
    assert ('href="/users"' in nav) == (role == "admin")


def test_signed_out_api_clients_get_401(client):
    assert client.get("/api/audit").status_code == 401


def test_api_pages_newest_first_with_a_cursor_and_filters(client, bearer, runner):
    for _ in range(4):
        runner.invoke(args=["queue", "pause", "low"])
        runner.invoke(args=["queue", "resume", "low"])
    headers = bearer("admin")  # after three user.create rows from the fixture: token.create
    seen, cursor = [], None
    while True:
        url = "/api/audit?limit=4" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).get_json()
        assert set(body) == {"items", "next_cursor"}
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 12 and [r["id"] for r in seen] == sorted(
        (r["id"] for r in seen), reverse=True
    )
    assert seen[0]["action"] == "token.create"
    assert set(seen[1]) == {
        "id", "at", "actor", "channel", "action", "target", "count", "filters", "changes", "ip"
    }  # fmt: skip

    def ids(query: str) -> list[int]:
        return [
            r["id"] for r in client.get(f"/api/audit?{query}", headers=headers).get_json()["items"]
        ]

    assert len(ids("action=queue.pause")) == 4 and len(ids("action=queue.*")) == 8
    assert len(ids(f"actor={CLI_ACTOR}")) == 8 and len(ids("actor=system")) == 4
    assert len(ids("target_type=queue&target_id=low")) == 8
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert ids(f"since={future.replace('+00:00', 'Z')}") == []
    assert len(ids(f"until={future.replace('+00:00', 'Z')}")) == 12
    bad = client.get("/api/audit?limit=0", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_request"
    assert client.get("/api/audit?since=yesterday", headers=headers).status_code == 400


def test_audit_page_filters_and_pages(client, login, runner, monkeypatch):
    monkeypatch.setattr("webapp.audit.routes.PAGE_SIZE", 3)
    for _ in range(2):
        runner.invoke(args=["queue", "pause", "high"])
        runner.invoke(args=["queue", "resume", "high"])
    login("admin")
    first = client.get("/audit?action=queue.*").get_data(as_text=True)
    assert first.count("<code>queue.") == 3 and 'rel="next"' in first
    cursor = re.search(r'href="/audit\?cursor=(\d+)[^"]*" rel="next"', first.replace("&amp;", "&"))
    second = client.get(f"/audit?action=queue.*&cursor={cursor.group(1)}").get_data(as_text=True)
    assert second.count("<code>queue.") == 1 and 'rel="next"' not in second
    fragment = client.get("/audit?actor=nobody", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="audit_table"')
    assert "No audit rows match" in fragment.get_data(as_text=True)
    assert client.get("/audit?since=soon").status_code == 400


def test_audit_list_prints_a_table(runner):
    runner.invoke(args=["queue", "pause", "low"])
    lines = runner.invoke(args=["audit", "list"]).output.splitlines()
    assert lines[0].split() == ["ID", "AT", "ACTOR", "CHANNEL", "ACTION", "TARGET", "COUNT"]
    assert CLI_ACTOR in lines[1] and "queue.pause" in lines[1] and "queue low" in lines[1]


# -- export and retention -----------------------------------------------------------------


def test_the_audit_export_is_for_admins_only(client, bearer, runner):
    runner.invoke(args=["queue", "pause", "high"])  # not low: exports run there
    refused = client.post(
        "/api/exports", json={"dataset": "audit", "format": "jsonl"}, headers=bearer("operator")
    )
    assert refused.status_code == 403
    made = client.post(
        "/api/exports", json={"dataset": "audit", "format": "jsonl"}, headers=bearer("admin")
    )
    assert made.status_code == 202
    export_id = made.get_json()["id"]
    download = client.get(f"/api/exports/{export_id}/download", headers=bearer("admin"))
    lines = [json.loads(line) for line in download.get_data(as_text=True).splitlines()]
    pause = next(line for line in lines if line["action"] == "queue.pause")
    assert pause["actor"] == CLI_ACTOR and pause["target_id"] == "high"
    assert next(line for line in lines if line["action"] == "user.create")["changes"]["role"]
    xlsx = client.post(
        "/api/exports", json={"dataset": "audit", "format": "xlsx"}, headers=bearer("admin")
    )
    assert xlsx.get_json()["status"] == "completed"


def test_retention_prunes_audit_rows_on_their_own_clock(app, runner):
    from tasks.maintenance import prune_audit_log, prune_job_logs

    runner.invoke(args=["queue", "pause", "low"])
    runner.invoke(args=["queue", "resume", "low"])
    old = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
    old.at = utcnow() - timedelta(days=400)
    job = sample_job.dispatch(steps=1, step_seconds=0)
    db.session.get(JobLog, job).finished_at = utcnow() - timedelta(days=400)
    db.session.commit()

    prune_job_logs.dispatch(30)  # the job-log prune leaves the audit log alone
    assert len(audit_rows(runner, "--action", "queue.*")) == 2
    db.session.expire_all()
    assert db.session.get(JobLog, job) is None

    assert app.config["AUDIT_RETENTION_DAYS"] == 365
    prune_audit_log.dispatch(app.config["AUDIT_RETENTION_DAYS"])
    assert [r["action"] for r in audit_rows(runner, "--action", "queue.*")] == ["queue.resume"]


def test_a_second_operator_is_told_apart(client, login, runner, users):
    create_user("operator2@example.com", PASSWORD, "operator")
    job_id = sample_job.dispatch(delay=3600)
    client.post("/login", data={"email": "operator2@example.com", "password": PASSWORD})
    client.post(f"/jobs/{job_id}/cancel")
    assert the_row(runner, "job.cancel")["actor"] == "operator2@example.com"
