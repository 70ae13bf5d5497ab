"""Export filters are checked before anything is recorded, as the jobs list checks its own:
a bad status or date is refused with the field and the reason, from the API, the page and the
CLI, and nothing is created; the exports and imports lists refuse filter values they lack."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models.audit import AuditEntry
from webapp.models.jobs import JobLog
from webapp.models.transfers import Export

STATUSES = "pending, running, completed, failed, cancelled"


def nothing_created() -> bool:
    """No export, no job to write one, and no ``export.create`` in the audit log."""
    exports = db.session.scalar(select(func.count()).select_from(Export))
    jobs = db.session.scalar(select(func.count()).select_from(JobLog))
    audited = db.session.scalar(select(func.count()).where(AuditEntry.action == "export.create"))
    return (exports, jobs, audited) == (0, 0, 0)


@pytest.mark.parametrize(
    "dataset, filters, field, message",
    [
        ("job_logs", {"status": "nope"}, "filters.status",
         f"filters.status: unknown status 'nope'; use one of {STATUSES}"),
        ("episodes", {"status": "done"}, "filters.status",
         "filters.status: unknown episodes status 'done'; use one of pending, synced, failed"),
        ("schedule_runs", {"status": "completed"}, "filters.status",
         "filters.status: unknown schedule_runs status 'completed'; "
         "use one of pending, running, succeeded, failed, skipped"),
        ("job_logs", {"since": "yesterday"}, "filters.since",
         "filters.since must be a date like 2026-01-31 or an ISO 8601 time, not 'yesterday'"),
        ("series", {"until": "2026-02-30"}, "filters.until",
         "filters.until must be a date like 2026-01-31 or an ISO 8601 time, not '2026-02-30'"),
        ("job_logs", {"since": "2026-03-01", "until": "2026-02-01"}, "filters.until",
         "filters.until: the until date is before the since date"),
    ],
)  # fmt: skip
def test_a_bad_filter_is_refused_by_the_api_and_nothing_is_created(
    client, bearer, dataset, filters, field, message
):
    response = client.post(
        "/api/exports",
        json={"dataset": dataset, "format": "csv", "filters": filters},
        headers=bearer("operator"),
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == {"code": "invalid", "message": message, "field": field}
    assert nothing_created()


def test_good_filters_still_export(client, bearer):
    for dataset, filters in [
        ("job_logs", {"status": "failed", "since": "2026-01-01", "until": "2026-12-31T23:00:00Z"}),
        ("series", {"status": "Ended"}),  # a series' status is TVmaze's own word: any text
        ("audit", {"status": "api"}),
    ]:
        response = client.post(
            "/api/exports",
            json={"dataset": dataset, "format": "jsonl", "filters": filters},
            headers=bearer("admin"),
        )
        assert response.status_code == 202, response.get_json()


def test_the_page_shows_a_bad_status_under_its_box_and_creates_nothing(client, login):
    login("operator")
    response = client.post(
        "/exports", data={"dataset": "job_logs", "format": "csv", "status": "nope"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"unknown status &#39;nope&#39;; use one of {STATUSES}" in page
    assert "filters.status" not in page  # the page's words, not the API's
    assert nothing_created()


def test_the_cli_refuses_a_bad_status_and_creates_nothing(runner, app):
    result = runner.invoke(
        args=["exports", "run", "--dataset", "job_logs", "--format", "csv", "--status", "nope"]
    )
    assert result.exit_code == 2 and "--status" in result.output
    assert "unknown status 'nope'" in result.output and "filters." not in result.output
    assert nothing_created()


@pytest.mark.parametrize(
    "url, message",
    [
        ("/exports?status=nope", "status must be one of pending, running, completed, failed, "
         "cancelled, expired, not 'nope'"),
        ("/exports?dataset=planets",
         "dataset must be one of job_logs, series, episodes, schedule_runs, audit, not 'planets'"),
        ("/exports?format=pdf", "format must be one of csv, jsonl, xlsx, not 'pdf'"),
        ("/imports?status=done",
         "status must be one of pending, running, completed, failed, cancelled, not 'done'"),
        ("/imports?importer=planets",
         "importer must be one of series, integrations, not 'planets'"),
    ],
)  # fmt: skip
def test_the_lists_refuse_filter_values_they_do_not_have(client, login, url, message):
    login("operator")
    response = client.get(url)
    assert response.status_code == 400
    assert message.replace("'", "&#39;") in response.get_data(as_text=True)
    json_error = client.get(url, headers={"Accept": "application/json"}).get_json()["error"]
    field = url.split("?")[1].split("=")[0]
    assert json_error == {"code": "bad_request", "message": message, "field": field}


@pytest.mark.parametrize("url", ["/exports?status=expired", "/imports?status=cancelled"])
def test_the_lists_take_every_status_they_have(client, login, url):
    login("operator")
    assert client.get(url).status_code == 200
