"""Another user's records, as a viewer meets them: the answer says it may be someone else's
(not "deleted"), the same on the page and the API, and the dashboard says whose jobs it counts."""

from __future__ import annotations

import re

import pytest

from tasks.samples import sample_job
from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.transfers import Export, Import
from webapp.services import batches
from webapp.services.integrations import create_integration
from webapp.services.users import create_user, issue_token, user_by_email

NOT_THEIRS = "does not exist or belongs to another user (only its owner and admins can open it)"


def message(response) -> str:
    return response.get_json()["error"]["message"]


def test_another_users_job_says_it_may_be_theirs_on_the_page_and_the_api(
    client, login, bearer, users
):
    job_id = sample_job.dispatch(steps=1, step_seconds=0, user_id=users["operator"].id)
    for role in ("viewer", "admin"):
        assert client.get(f"/api/job-logs/{job_id}", headers=bearer(role)).status_code == (
            404 if role == "viewer" else 200
        )
    api = client.get(f"/api/job-logs/{job_id}", headers=bearer("viewer"))
    assert api.status_code == 404 and message(api) == f"job #{job_id} {NOT_THEIRS}"
    missing = client.get("/api/job-logs/424242", headers=bearer("viewer"))
    assert message(missing) == f"job #424242 {NOT_THEIRS}"  # the same words: nothing leaks
    # an admin sees every job, so for them a missing one is simply gone
    gone = client.get("/api/job-logs/424242", headers=bearer("admin"))
    assert message(gone) == "job #424242 was deleted or never existed"
    login("viewer")
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert f"job #{job_id} {NOT_THEIRS}" in text and "never existed" not in text


@pytest.mark.parametrize(
    "model, url",
    [(Import, "/api/imports/{id}"), (Export, "/api/exports/{id}/status")],
)
def test_another_users_import_or_export_says_the_same(client, bearer, users, model, url):
    fields = {"importer": "series", "filename": "x.csv", "path": "x.csv"}
    if model is Export:
        fields = {"dataset": "series", "format": "csv"}
    record = model(user_id=users["operator"].id, **fields)
    db.session.add(record)
    db.session.commit()
    response = client.get(url.format(id=record.id), headers=bearer("viewer"))
    kind = "import" if model is Import else "export"
    assert response.status_code == 404
    assert message(response) == f"{kind} {record.id} {NOT_THEIRS}"
    assert client.get(url.format(id=record.id), headers=bearer("operator")).status_code == 200


def card(page: str, status: str) -> tuple[int, str]:
    found = re.search(
        rf'class="card card-{status}"[^>]*><span class="card-count">(\d+)</span>'
        r'<span class="card-label">([^<]*)</span>',
        page,
    )
    return int(found.group(1)), found.group(2)


def test_the_dashboard_says_whose_jobs_each_count_counts(app, client, login, users):
    operator = users["operator"].id
    sample_job.dispatch(steps=1, step_seconds=0, user_id=operator)  # completed, the operator's
    waiting = JobLog(task="noop", queue="default", status="pending", user_id=operator)
    db.session.add(waiting)
    db.session.commit()

    login("viewer")
    page = client.get("/").get_data(as_text=True)
    # waiting counts only what the viewer can open, as the list it links to does
    assert card(page, "pending") == (0, "waiting")
    listed = client.get("/jobs?status=pending").get_data(as_text=True)
    assert f'href="/jobs/{waiting.id}"' not in listed
    # the 24 h figures are every user's, and say so
    assert card(page, "completed") == (1, "completed · 24 h · all users")
    assert 'id="count-scope"' in page and "every user's jobs" in page

    admin = app.test_client()
    admin.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    page = admin.get("/").get_data(as_text=True)
    assert card(page, "pending") == (1, "waiting")
    assert card(page, "completed") == (1, "completed · 24 h")
    assert 'id="count-scope"' not in page


def test_another_users_integration_page_says_the_same(client, login, users):
    integration = create_integration(
        users["operator"].id, "json_url", "Theirs", {"url": "http://127.0.0.1:9/x"}, 60
    )
    login("viewer")
    page = client.get(f"/integrations/{integration.id}")
    assert page.status_code == 404
    assert f"integration {integration.id} {NOT_THEIRS}" in page.get_data(as_text=True)


def test_acting_on_another_users_batch_says_it_is_theirs_to_act_on(client, bearer, users):
    batch = batches.create_batch("theirs", 1, user_id=users["operator"].id)
    create_user("b@example.com", PASSWORD, "operator")
    b = {"Authorization": f"Bearer {issue_token(user_by_email('b@example.com'))}"}
    response = client.post(f"/api/batches/{batch.id}/cancel", headers=b)
    assert response.status_code == 404
    assert message(response) == (
        f"batch {batch.id} does not exist or belongs to another user "
        "(only its owner and admins can act on it)"
    )
