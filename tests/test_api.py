"""The JSON API through the test client, with tokens and roles."""

import re
from datetime import timedelta

from tasks.samples import sample_job
from webapp.api.openapi import description
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert set(body["error"]) <= {"code", "message", "field"}
    return body["error"]


def test_the_api_needs_a_user(client, users):
    response = client.get("/api/job-logs")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    wrong = client.get("/api/job-logs", headers={"Authorization": "Bearer jd_not-a-token"})
    assert wrong.status_code == 401


def test_tokens_are_stored_hashed(app, users, bearer):
    headers = bearer("viewer")
    token = headers["Authorization"].removeprefix("Bearer ")
    assert users["viewer"].tokens[0].token_hash != token
    assert token not in str(users["viewer"].tokens[0].token_hash)


def test_list_filters_and_pages_newest_first(client, bearer):
    ids = [sample_job.dispatch(steps=1, step_seconds=0) for _ in range(5)]
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    headers = bearer("viewer")

    seen, cursor = [], None
    while True:
        url = "/api/job-logs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids + [failed], reverse=True)

    only_failed = client.get("/api/job-logs?status=failed", headers=headers).get_json()
    assert [item["id"] for item in only_failed["items"]] == [failed]
    item = only_failed["items"][0]
    assert item["error"].startswith("SampleJobFailure")
    assert set(item) >= {
        "id",
        "task",
        "queue",
        "status",
        "progress",
        "attempts",
        "max_attempts",
        "payload",
        "message",
        "error",
        "traceback",
        "source",
        "user_id",
        "batch_id",
        "retry_of",
        "created_at",
        "started_at",
        "finished_at",
        "duration_s",
    }
    by_task = client.get("/api/job-logs?task=nothing&queue=high", headers=headers).get_json()
    assert by_task == {"items": [], "next_cursor": None}


def test_bad_query_values_are_400_not_500(client, bearer):
    headers = bearer("viewer")
    for query in (
        "limit=abc",
        "limit=0",
        "limit=501",
        "cursor=-3",
        "status=exploded",
        "queue=urgent",
        "source_id=x",
    ):
        response = client.get(f"/api/job-logs?{query}", headers=headers)
        assert response.status_code == 400, query
        assert error_of(response)["message"]


def test_one_job_log_and_unknown_ids(client, bearer):
    job_id = sample_job.dispatch(steps=1, step_seconds=0)
    headers = bearer("viewer")
    body = client.get(f"/api/job-logs/{job_id}", headers=headers).get_json()
    assert body["id"] == job_id and body["status"] == "completed"
    missing = client.get("/api/job-logs/999999", headers=headers)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert client.get("/api/job-logs/abc", headers=headers).status_code == 404
    assert client.put("/api/job-logs/1", headers=headers).status_code == 405


def test_cancel_needs_an_operator_and_an_unfinished_job(client, bearer):
    pending = sample_job.dispatch(delay=3600)
    viewer = client.post(f"/api/job-logs/{pending}/cancel", headers=bearer("viewer"))
    assert viewer.status_code == 403 and error_of(viewer)["code"] == "forbidden"

    response = client.post(f"/api/job-logs/{pending}/cancel", headers=bearer("operator"))
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    again = client.post(f"/api/job-logs/{pending}/cancel", headers=bearer("operator"))
    assert again.status_code == 409 and "cancelled" in error_of(again)["message"]


def test_retry_makes_a_new_linked_job(client, bearer):
    failed = sample_job.dispatch(steps=2, step_seconds=0, fail_at_step=1)
    headers = bearer("operator")
    response = client.post(f"/api/job-logs/{failed}/retry", headers=headers)
    assert response.status_code == 202
    new = response.get_json()
    assert new["retry_of"] == failed and new["id"] != failed
    assert new["payload"]["fail_at_step"] == 1  # same arguments
    old = client.get(f"/api/job-logs/{failed}", headers=headers).get_json()
    assert old["status"] == "failed"  # stays failed in the log
    assert client.get("/api/queues", headers=headers).get_json()["failed"] == 1  # the new one

    twice = client.post(f"/api/job-logs/{failed}/retry", headers=headers)
    assert twice.status_code == 409 and "already retried" in error_of(twice)["message"]
    done = sample_job.dispatch(steps=1, step_seconds=0)
    assert client.post(f"/api/job-logs/{done}/retry", headers=headers).status_code == 409


def test_cleanup_is_for_admins_and_keeps_recent_and_active_jobs(app, client, bearer):
    old = sample_job.dispatch(steps=1, step_seconds=0)
    recent = sample_job.dispatch(steps=1, step_seconds=0)
    waiting = sample_job.dispatch(delay=3600)
    db.session.get(JobLog, old).finished_at = utcnow() - timedelta(days=40)
    db.session.commit()

    assert (
        client.delete("/api/job-logs/cleanup?days=30", headers=bearer("operator")).status_code
        == 403
    )
    admin = bearer("admin")
    assert client.delete("/api/job-logs/cleanup", headers=admin).status_code == 400
    assert client.delete("/api/job-logs/cleanup?days=-1", headers=admin).status_code == 400
    response = client.delete("/api/job-logs/cleanup?days=30", headers=admin)
    assert response.get_json() == {"deleted": 1}
    db.session.expire_all()
    assert db.session.get(JobLog, old) is None
    assert (
        db.session.get(JobLog, recent) is not None and db.session.get(JobLog, waiting) is not None
    )


def test_stats_and_queue_counts(client, bearer):
    sample_job.dispatch(steps=1, step_seconds=0)
    sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    sample_job.dispatch(delay=3600)
    sample_job.dispatch(delay=3600, queue="high")
    headers = bearer("viewer")
    stats = client.get("/api/job-logs/stats", headers=headers).get_json()
    assert stats["by_status"] == {
        "pending": 2,
        "running": 0,
        "completed": 1,
        "failed": 1,
        "cancelled": 0,
    }
    assert stats["by_queue"]["high"]["pending"] == 1
    [task] = stats["by_task"]
    assert task["task"] == "sample_job" and task["total"] == 4
    assert task["completed"] == 1 and task["failed"] == 1
    assert task["avg_duration_s"] >= 0
    assert stats["failed_last_hour"] == 1
    queues = client.get("/api/queues", headers=headers).get_json()
    assert queues == {"high": 1, "default": 1, "low": 0, "running": 0, "failed": 1}


def test_openapi_describes_every_api_route(app, client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented, (path, method)
    assert spec == description()


def test_a_browser_session_needs_csrf_for_api_writes(tmp_path, monkeypatch, database):
    from tests.conftest import PASSWORD, make_app
    from webapp.services.users import create_user

    app = make_app(database, tmp_path, monkeypatch, WTF_CSRF_ENABLED=True)
    with app.app_context():
        create_user("op@example.com", PASSWORD, "operator")
        job_id = sample_job.dispatch(delay=3600)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login", data={"email": "op@example.com", "password": PASSWORD, "csrf_token": token}
    )
    refused = client.post(f"/api/job-logs/{job_id}/cancel")
    assert refused.status_code == 400 and error_of(refused)["code"] == "csrf_failed"
    accepted = client.post(f"/api/job-logs/{job_id}/cancel", headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
