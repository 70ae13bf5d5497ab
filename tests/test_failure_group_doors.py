"""Failure groups through their doors: /failed?group=1, /api/failure-groups and the queue
commands; who may act, and a group that changed between the page and the click."""

import json
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models.audit import AuditEntry
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.services.failure_groups import failure_groups
from webapp.services.users import create_user, issue_token

HTMX = {"HX-Request": "true", "HX-Target": "failed_table"}
TIMEOUT = "TimeoutError: timed out after {} s on series {}"


def failed(error: str, user_id: int | None = None, task: str = "sample_job") -> int:
    """A failed job that, retried, completes at once."""
    job = JobLog(
        task=task,
        status="failed",
        error=error,
        finished_at=utcnow(),
        user_id=user_id,
        arguments={"args": [], "kwargs": {"steps": 1, "step_seconds": 0}},
    )
    db.session.add(job)
    db.session.commit()
    return job.id


class Groups(HTMLParser):
    """The rows of the groups table: key, count, example link, and each button's confirm."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: dict[str, dict] = {}
        self.row: dict | None = None
        self.cell = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-group" in attrs:
            self.row = self.rows[attrs["data-group"]] = {"buttons": [], "cells": []}
        elif self.row is not None and tag == "td":
            self.row["cells"].append("")
        elif self.row is not None and tag == "a":
            self.row["example"] = attrs["href"]
        elif self.row is not None and tag == "button":
            self.row["buttons"].append(attrs)
        elif self.row is not None and tag == "input" and attrs.get("name") == "expected":
            self.row["expected"] = attrs["value"]

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.row is not None and self.row["cells"]:
            self.row["cells"][-1] += data.strip()


def buttons(row: dict) -> dict[str, str]:
    return {attrs.get("class", ""): attrs.get("data-confirm", "") for attrs in row["buttons"]}


@pytest.fixture
def three_and_one(app):
    ids = [failed(TIMEOUT.format(30 + n, 4700 + n)) for n in range(3)]
    other = failed("KeyError: 'name'")
    return ids, other


def group_rows(client, query: str = "") -> dict[str, dict]:
    response = client.get(f"/failed?group=1{query}")
    assert response.status_code == 200
    return Groups(response.get_data(as_text=True)).rows


def test_the_groups_view_shows_count_times_example_and_who_may_act(client, login, three_and_one):
    ids, other = three_and_one
    login("viewer")
    rows = group_rows(client)
    top = failure_groups()[0]
    assert list(rows) == [top.key, failure_groups()[1].key]
    cells = rows[top.key]["cells"]
    assert cells[0] == "3" and cells[1] == "sample_job"
    assert cells[2] == "TimeoutError: timed out after <n> s on series <n>"
    assert rows[top.key]["example"] == f"/jobs/{ids[-1]}"
    assert rows[top.key]["buttons"] == []  # a viewer sees, does not act
    client.post("/logout")

    login("operator")
    rows = group_rows(client)
    assert rows[top.key]["expected"] == "3"
    [confirm] = [c for cls, c in buttons(rows[top.key]).items() if cls == "small"]
    assert "Retry the 3 failed job(s)" in confirm
    assert "Delete this group" not in client.get("/failed?group=1").get_data(as_text=True)
    client.post("/logout")

    login("admin")
    rows = group_rows(client)
    assert any("Delete the records of the 3" in c for c in buttons(rows[top.key]).values())
    fragment = client.get("/failed?group=1", headers=HTMX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="failed_table"') and top.key in fragment
    assert 'name="group" value="1"' in client.get("/failed?group=1").get_data(as_text=True)
    assert top.key not in group_rows(client, "&task=other")


def test_a_viewer_cannot_retry_or_delete_a_group(client, login, three_and_one):
    login("viewer")
    key = failure_groups()[0].key
    assert client.post(f"/failed/groups/{key}/retry").status_code == 403
    assert client.post(f"/failed/groups/{key}/delete").status_code == 403
    assert failure_groups()[0].count == 3


def test_retry_this_group_acts_on_what_matches_now_and_says_so(client, login, three_and_one):
    ids, other = three_and_one
    login("operator")
    key = failure_groups()[0].key
    late = failed(TIMEOUT.format(99, 1))  # joins the group after the page was shown
    response = client.post(
        f"/failed/groups/{key}/retry", data={"expected": "3"}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "Retried 4 failed job(s) of sample_job · TimeoutError." in page
    assert "The page showed 3; the group held 4 when you clicked" in page
    retried = set(db.session.scalars(select(JobLog.retry_of).where(JobLog.retry_of.is_not(None))))
    assert retried == {*ids, late}
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "failed.retry_group")
    ).one()
    assert (entry.count, entry.channel, entry.actor) == (4, "page", "operator@example.com")
    # the group has left the failed list: a second click finds nothing to act on
    again = client.post(f"/failed/groups/{key}/retry", data={"expected": "3"})
    assert again.status_code == 404 and "no failure group" in again.get_data(as_text=True)
    assert db.session.get(JobLog, other).status == "failed"


def test_bad_group_requests_are_refused_with_words(client, login, three_and_one):
    login("admin")
    key = failure_groups()[0].key
    assert client.post("/failed/groups/0123456789abcdef/retry").status_code == 404
    assert client.post("/failed/groups/nonsense/delete").status_code == 404
    bad = client.post(f"/failed/groups/{key}/retry", data={"expected": "many"})
    assert bad.status_code == 400
    assert client.post(f"/failed/groups/{key}/retry", data={"queue": "urgent"}).status_code == 400
    assert failure_groups()[0].count == 3


def test_delete_this_group_is_for_admins(client, login, three_and_one):
    ids, other = three_and_one
    login("admin")
    key = failure_groups()[0].key
    response = client.post(
        f"/failed/groups/{key}/delete", data={"expected": "3"}, follow_redirects=True
    )
    assert "Deleted 3 failed job(s)" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(JobLog.id.in_(ids))) == 0
    assert db.session.get(JobLog, other) is not None
    assert (
        db.session.scalars(
            select(AuditEntry.count).where(AuditEntry.action == "failed.delete_group")
        ).one()
        == 3
    )


@pytest.fixture
def two_operators(app, users):
    other = create_user("other@example.com", PASSWORD, "operator")
    mine = [failed(TIMEOUT.format(1, 1), users["operator"].id) for _ in range(2)]
    nobody = failed(TIMEOUT.format(2, 2))
    theirs = failed(TIMEOUT.format(3, 3), other.id)
    only_theirs = failed("KeyError: 'secret project'", other.id)
    return {"mine": mine, "nobody": nobody, "theirs": theirs, "only_theirs": only_theirs}


def test_an_operator_acts_only_on_the_jobs_they_may_see(client, login, two_operators):
    login("operator")
    rows = group_rows(client)
    [key] = rows  # the other operator's KeyError group is not shown
    assert rows[key]["cells"][0] == "3"
    everyone = {g.task + g.error_class: g.key for g in failure_groups()}
    assert client.post(f"/failed/groups/{everyone['sample_jobKeyError']}/retry").status_code == 404
    client.post(f"/failed/groups/{key}/retry", data={"expected": "3"})
    retried = set(db.session.scalars(select(JobLog.retry_of).where(JobLog.retry_of.is_not(None))))
    assert retried == {*two_operators["mine"], two_operators["nobody"]}
    assert db.session.get(JobLog, two_operators["theirs"]).status == "failed"


# -- the API -----------------------------------------------------------------------------------


def test_the_api_lists_groups_and_acts_on_them_by_role(client, bearer, three_and_one):
    ids, _ = three_and_one
    viewer, operator, admin = bearer("viewer"), bearer("operator"), bearer("admin")
    listed = client.get("/api/failure-groups", headers=viewer)
    assert listed.status_code == 200
    body = listed.get_json()
    assert body["more"] is False and [g["count"] for g in body["items"]] == [3, 1]
    top = body["items"][0]
    assert top["example_id"] == ids[-1] and top["error_class"] == "TimeoutError"
    assert top["first_seen"] and top["last_seen"] and top["example_error"].startswith("Timeout")
    assert top["first_seen"].endswith("Z") and top["last_seen"].endswith("Z")  # as the API writes
    assert client.get("/api/failure-groups?limit=1", headers=viewer).get_json()["more"] is True
    assert client.get("/api/failure-groups?task=x", headers=viewer).get_json()["items"] == []
    key = top["key"]
    assert client.post(f"/api/failure-groups/{key}/retry", headers=viewer).status_code == 403
    assert client.delete(f"/api/failure-groups/{key}", headers=operator).status_code == 403
    late = failed(TIMEOUT.format(5, 5))
    done = client.post(f"/api/failure-groups/{key}/retry", headers=operator)
    assert done.status_code == 202
    answer = done.get_json()
    assert (answer["matched"], answer["retried"], answer["problems"]) == (4, 4, [])
    assert len(answer["job_ids"]) == 4
    assert {db.session.get(JobLog, i).retry_of for i in answer["job_ids"]} == {*ids, late}
    gone = client.post(f"/api/failure-groups/{key}/retry", headers=operator)
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "not_found"
    other_key = body["items"][1]["key"]
    deleted = client.delete(f"/api/failure-groups/{other_key}", headers=admin)
    assert deleted.status_code == 200 and deleted.get_json()["deleted"] == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/failure-groups?limit=0", 400),
        ("get", "/api/failure-groups?limit=abc", 400),
        ("get", "/api/failure-groups?queue=urgent", 400),
        ("get", "/api/failure-groups?since=yesterday", 400),
        ("get", "/api/failure-groups?colour=red", 400),
        ("post", "/api/failure-groups/0123456789abcdef/retry", 404),
        ("post", "/api/failure-groups/not-a-key/retry", 404),
        ("delete", "/api/failure-groups/0123456789abcdef", 404),
    ],
)
def test_bad_api_requests_are_answered_in_words(
    client, bearer, three_and_one, method, path, status
):
    response = getattr(client, method)(path, headers=bearer("admin"))
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"]["message"]
    assert failure_groups()[0].count == 3


def test_the_api_keeps_to_the_callers_jobs(client, users, two_operators):
    other = {"Authorization": f"Bearer {issue_token(users['operator'])}"}
    items = client.get("/api/failure-groups", headers=other).get_json()["items"]
    assert [(g["error_class"], g["count"]) for g in items] == [("TimeoutError", 3)]
    hidden = next(g.key for g in failure_groups() if g.error_class == "KeyError")
    assert client.post(f"/api/failure-groups/{hidden}/retry", headers=other).status_code == 404


# -- the command line --------------------------------------------------------------------------


def test_the_queue_commands_list_retry_and_delete_groups(runner, three_and_one):
    ids, other = three_and_one
    table = runner.invoke(args=["queue", "failed-groups"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:4] == ["KEY", "COUNT", "TASK", "ERROR"]
    top, second = failure_groups()
    assert lines[1].split()[:4] == [top.key, "3", "sample_job", "TimeoutError"]
    listed = json.loads(runner.invoke(args=["queue", "failed-groups", "--json"]).output)
    assert [g["key"] for g in listed] == [top.key, second.key] and listed[0]["count"] == 3

    missing = runner.invoke(args=["queue", "retry-group", "0123456789abcdef"])
    assert missing.exit_code == 1 and "no failure group" in missing.output
    assert "Traceback" not in missing.output

    done = runner.invoke(args=["queue", "retry-group", top.key])
    assert done.exit_code == 0, done.output
    assert "Retried 3 of the 3 failed job(s) of sample_job · TimeoutError" in done.output
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "failed.retry_group")
    ).one()
    assert entry.channel == "cli"

    kept = runner.invoke(args=["queue", "delete-group", second.key], input="n\n")
    assert kept.exit_code == 1 and "Delete the 1 failed job record(s)" in kept.output
    assert db.session.get(JobLog, other) is not None
    gone = runner.invoke(args=["queue", "delete-group", second.key, "--yes"])
    assert gone.exit_code == 0 and "Deleted 1 failed job record(s)" in gone.output
    assert db.session.get(JobLog, other) is None
    assert runner.invoke(args=["queue", "failed-groups"]).output.strip() == "No failed jobs."
