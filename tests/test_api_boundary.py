"""The API's boundary: the description generated from its models agrees with its answers, bad
input is a 400 or 422 naming the field, and imports and exports say which job runs them."""

from __future__ import annotations

import io

import pytest

from tasks.samples import sample_job
from tests.conftest import PASSWORD
from webapp.boundary import MAX_ID
from webapp.services.users import create_user, issue_token

CSV = "name,tvmaze_id,tvdb_id\nGame of Thrones,82,121361\n"


def spec(client) -> dict:
    return client.get("/api/openapi.json").get_json()


def properties(document: dict, model: str) -> set[str]:
    return set(document["components"]["schemas"][model]["properties"])


def upload(client, headers, content=CSV, importer="series"):
    return client.post(
        "/api/imports",
        data={"file": (io.BytesIO(content.encode()), "series.csv"), "importer": importer},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_every_answer_has_exactly_the_fields_its_schema_describes(client, bearer):
    operator = bearer("operator")
    failed = sample_job.dispatch(steps=2, step_seconds=0, fail_at_step=1)
    created = client.post(
        "/api/schedules",
        json={
            "name": "Prune",
            "command": "jobs prune",
            "parameters": {"--days": "30"},
            "cron": "0 3 * * *",
        },
        headers=operator,
    )
    assert created.status_code == 201, created.get_json()
    schedule_id = created.get_json()["id"]
    run = client.post(f"/api/schedules/{schedule_id}/run", headers=operator).get_json()
    imported = upload(client, operator).get_json()
    exported = client.post(
        "/api/exports", json={"dataset": "series", "format": "csv"}, headers=operator
    ).get_json()
    document = spec(client)

    job = client.get(f"/api/job-logs/{failed}", headers=operator).get_json()
    assert set(job) == properties(document, "JobLog")
    assert {"next_attempt_at", "attempt_errors"} <= set(job)
    schedule = client.get(f"/api/schedules/{schedule_id}", headers=operator).get_json()
    assert set(schedule) == properties(document, "Schedule")
    assert {"description", "queue", "success_window_minutes"} <= set(schedule)
    assert set(run) == set(schedule["last_run"]) == properties(document, "ScheduleRun")
    assert {"id", "schedule_id", "note", "duration_s"} <= set(run)
    assert set(imported) == properties(document, "Import")
    assert set(exported) == properties(document, "Export")


def test_nullable_fields_are_described_as_nullable(client):
    job_log = spec(client)["components"]["schemas"]["JobLog"]["properties"]
    assert {"type": "null"} in job_log["finished_at"]["anyOf"]
    assert {"type": "null"} in job_log["source"]["anyOf"]
    assert "anyOf" not in job_log["id"]
    export = spec(client)["components"]["schemas"]["Export"]["properties"]
    assert {"type": "null"} in export["job_log_id"]["anyOf"]


def test_imports_and_exports_answer_with_the_job_that_runs_them(queued):
    """With a real queue the job has not started yet, so only dispatch knows its id."""
    client = queued.test_client()
    operator = create_user("op@example.com", PASSWORD, "operator")
    headers = {"Authorization": f"Bearer {issue_token(operator)}"}
    imported = upload(client, headers)
    assert imported.status_code == 202
    body = imported.get_json()
    assert body["status"] == "pending" and body["job_log_id"]
    job = client.get(f"/api/job-logs/{body['job_log_id']}", headers=headers).get_json()
    assert job["task"] == "run_import" and job["source"] == {"type": "import", "id": body["id"]}

    exported = client.post(
        "/api/exports", json={"dataset": "series", "format": "csv"}, headers=headers
    )
    assert exported.status_code == 202
    body = exported.get_json()
    job = client.get(f"/api/job-logs/{body['job_log_id']}", headers=headers).get_json()
    assert job["task"] == "run_export" and job["source"] == {"type": "export", "id": body["id"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"cursor={MAX_ID + 1}", "cursor"),
        (f"source_id={2**64}", "source_id"),
        ("batch_id=0", "batch_id"),
        ("limit=true", "limit"),
        ("task=a%00b", "task"),
        ("q=" + "x" * 1001, "q"),
        ("since=yesterday", "since"),
        ("order=sideways", "order"),
    ],
)
def test_bad_query_values_are_400_naming_the_field(client, bearer, query, field):
    response = client.get(f"/api/job-logs?{query}", headers=bearer("viewer"))
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and error["field"] == field
    assert error["message"].startswith(field)


@pytest.mark.parametrize(
    "query",
    ["since=0001-01-01T00:00:00%2B05:00", "until=9999-12-31T23:59:59-05:00", "status=&limit="],
)
def test_edge_times_and_blank_filters_are_answered(client, bearer, query):
    response = client.get(f"/api/job-logs?{query}", headers=bearer("viewer"))
    assert response.status_code == 200, response.get_json()


def test_ids_beyond_64_bits_and_huge_day_counts(client, bearer):
    admin = bearer("admin")
    for path in (f"/api/job-logs/{2**64}", f"/api/schedules/{MAX_ID + 1}/runs"):
        assert client.get(path, headers=admin).status_code == 404
    assert client.get(f"/api/job-logs/{MAX_ID}", headers=admin).status_code == 404
    huge = client.delete("/api/job-logs/cleanup?days=9999999", headers=admin)
    assert huge.status_code == 200 and huge.get_json() == {"deleted": 0}
    beyond = client.delete(f"/api/job-logs/cleanup?days={10**30}", headers=admin)
    assert beyond.status_code == 400 and beyond.get_json()["error"]["field"] == "days"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"success_window_minutes": True}, 400, "success_window_minutes"),
        ({"success_window_minutes": 10**30}, 400, "success_window_minutes"),
        ({"active": 1}, 400, "active"),
        ({"preset_at": 230}, 400, "preset_at"),
        ({"cron": "x" * 100_000}, 422, "cron"),
        ({"colour": "red"}, 422, "colour"),
        ({"queue": "urgent"}, 422, "queue"),
    ],
)
def test_schedule_bodies_are_checked_by_type_then_by_rule(client, bearer, body, status, field):
    response = client.post("/api/schedules", json={"name": "x", **body}, headers=bearer("operator"))
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["field"] == field


def test_exports_refuse_wrong_types_with_400_and_unknown_names_with_422(client, bearer):
    operator = bearer("operator")
    wrong_type = client.post("/api/exports", json={"dataset": 5, "format": "csv"}, headers=operator)
    assert wrong_type.status_code == 400
    unknown = client.post(
        "/api/exports", json={"dataset": "planets", "format": "csv"}, headers=operator
    )
    assert unknown.status_code == 422 and unknown.get_json()["error"]["field"] == "dataset"
    missing = client.post("/api/exports", json={"format": "csv"}, headers=operator)
    assert missing.status_code == 422 and missing.get_json()["error"]["message"] == (
        "dataset is required"
    )


def test_the_docs_page_is_public_offline_and_linked_from_every_page(client, login, app):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/static/redoc-2.5.4.standalone.js" in html and "cdn" not in html.lower()
    assert 'data-spec="/api/openapi.json"' in html
    assert client.get("/static/redoc-2.5.4.standalone.js").status_code == 200
    login("viewer")
    assert 'href="/api/docs"' in client.get("/").get_data(as_text=True)
