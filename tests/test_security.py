"""Trust, tried as a stranger would: secrets never stored, each user sees only what is theirs,
outbound requests fenced, guessing throttled, and the headers every page carries."""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from jobkit import tracked_task
from tasks.integrations import dispatch_due
from tasks.samples import noop
from tests.conftest import PASSWORD, make_app
from tests.fake_tvmaze import FakeServer
from webapp.extensions import db
from webapp.models.integrations import Integration
from webapp.models.jobs import JobLog
from webapp.services import batches, outbound
from webapp.services.integrations import create_integration
from webapp.services.users import create_user, issue_token, user_by_email

SECRET = "SECRET-XYZ"


@tracked_task(secret_args=("dsn",))
def leaky_task(url: str, dsn: str = "", note: dict | None = None) -> None:
    """Fails saying everything it was given, as careless code does."""
    raise RuntimeError(f"could not GET {url} for {dsn} (Authorization: Bearer {dsn}) {note!r}")


class Upstream:
    """A local stand-in for an outside service: answers by path, counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.routes: dict[str, Response] = {}

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.calls.append(request.full_path)
        response = self.routes.get(request.path) or Response("{}", 200, mimetype="application/json")
        return response(environ, start_response)


@pytest.fixture
def upstream():
    fake = Upstream()
    server = FakeServer(fake)
    fake.url = server.url
    yield fake
    server.stop()


def sign_in(app, email: str, password: str = PASSWORD) -> FlaskClient:
    """A client signed in as the user, who also holds an API token (``client.token``)."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.status_code
    client.token = {"Authorization": f"Bearer {issue_token(user_by_email(email))}"}
    return client


@pytest.fixture
def people(app, users):
    """Two operators (a and b), a viewer and an admin, each with a signed-in client."""
    create_user("b@example.com", PASSWORD, "operator")
    emails = {
        "a": "operator@example.com",
        "b": "b@example.com",
        "viewer": "viewer@example.com",
        "admin": "admin@example.com",
    }
    return {name: sign_in(app, email) for name, email in emails.items()}


def text(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def job_ids_on(client: FlaskClient, url: str) -> set[int]:
    """The job ids a page links to."""
    return {int(i) for i in re.findall(r'href="/jobs/(\d+)"', text(client, url))}


def api_ids(client: FlaskClient, query: str = "") -> set[int]:
    body = client.get(f"/api/job-logs{query}").get_json()
    assert "items" in body, body
    return {job["id"] for job in body["items"]}


def add_json_url(client: FlaskClient, url: str) -> Integration:
    response = client.post(
        "/integrations",
        data={"service": "json_url", "name": "Feed", "url": url, "update_frequency_minutes": 60},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalars(select(Integration).order_by(Integration.id.desc())).first()


def export_job_logs(client: FlaskClient) -> str:
    body = {"dataset": "job_logs", "format": "jsonl"}
    started = client.post("/api/exports", json=body, headers=client.token)
    assert started.status_code == 202, started.get_json()
    download = f"/api/exports/{started.get_json()['id']}/download"
    return client.get(download, headers=client.token).get_data(as_text=True)


# -- redaction before storage ----------------------------------------------------------------


def test_a_secret_in_a_failing_integration_url_is_found_nowhere(
    app, people, upstream, tmp_path, database
):
    upstream.routes["/feed"] = Response("down", 500)
    integration = add_json_url(people["a"], f"{upstream.url}/feed?api_key={SECRET}&page=2")
    assert SECRET not in json.dumps(integration.settings)
    assert integration.settings["url"].endswith("api_key=…-XYZ&page=2")  # its last 4 shown

    fetched = people["a"].post(f"/integrations/{integration.id}/fetch")
    assert fetched.status_code == 302
    assert upstream.calls == [f"/feed?api_key={SECRET}&page=2"] * 3  # the job had the key
    job = db.session.scalars(select(JobLog).where(JobLog.task == "process_integration_data")).one()
    assert job.status == "failed" and "answered 500" in job.error

    pages = ["/", "/jobs", f"/jobs/{job.id}", "/failed", "/integrations"]
    for who, client in people.items():
        for url in pages:
            assert SECRET not in client.get(url).get_data(as_text=True), (who, url)
        assert SECRET not in client.get("/api/job-logs").get_data(as_text=True), who
        # searching for the secret finds nothing: it was never indexed
        for words in (SECRET, "SECRET", "XYZ"):
            assert job_ids_on(client, f"/jobs?q={words}") == set(), (who, words)
            assert api_ids(client, f"?q={words}") == set(), (who, words)
        if who != "viewer":  # viewers do not export
            assert SECRET not in export_job_logs(client), who
    assert SECRET not in text(people["a"], f"/integrations/{integration.id}")
    assert "api_key=\\u2026-XYZ" in text(people["a"], f"/integrations/{integration.id}")
    assert job.id in api_ids(people["a"], "?q=answered")  # the error is still searchable

    if database == "sqlite":
        db.session.remove()
        db.engine.dispose()
        stored = b"".join(p.read_bytes() for p in Path(tmp_path).glob("jobdeck.db*"))
        assert stored and SECRET.encode() not in stored


def test_task_arguments_payload_and_errors_are_redacted_before_they_are_stored(app, people):
    url = f"https://user:hunter22@api.example/v1?token={SECRET}"
    job_id = leaky_task.dispatch(url, dsn="postgres://u:pw@db/x", note={"password": "p4ssw0rd"})
    row = db.session.get(JobLog, job_id)
    stored = json.dumps([row.arguments, row.payload, row.error, row.traceback, row.message])
    for secret in (SECRET, "hunter22", "postgres://u:pw@db", "p4ssw0rd"):
        assert secret not in stored
    shown = people["admin"].get(f"/api/job-logs/{job_id}").get_json()
    assert shown["payload"] == {
        "url": "https://user:[redacted]@api.example/v1?token=[redacted]",
        "dsn": "[redacted]",
        "note": {"password": "[redacted]"},
    }
    assert "Bearer [redacted]" in shown["error"]


def test_redact_keys_extends_the_built_in_list(database, tmp_path, monkeypatch):
    monkeypatch.setenv("REDACT_KEYS", "ssn, pin")
    app = make_app(database, tmp_path, monkeypatch)
    with app.app_context():
        job_id = leaky_task.dispatch("x", note={"user_ssn": "123-45-6789", "Pin": "0000", "n": 1})
        assert db.session.get(JobLog, job_id).payload["note"] == {
            "user_ssn": "[redacted]",
            "Pin": "[redacted]",
            "n": 1,
        }
        db.session.remove()
        db.engine.dispose()


# -- each user sees what is theirs -----------------------------------------------------------


@pytest.fixture
def jobs_of_a(app, people, upstream):
    """Operator a's failed integration job, and a job that nobody owns."""
    upstream.routes["/a"] = Response("gone", 404)
    integration = add_json_url(people["a"], f"{upstream.url}/a")
    people["a"].post(f"/integrations/{integration.id}/fetch")
    a_job = db.session.scalars(select(JobLog).where(JobLog.task == "process_integration_data"))
    return {"a": a_job.one().id, "nobody": noop.dispatch(), "integration": integration}


def test_another_operators_jobs_are_not_found_anywhere(app, people, jobs_of_a):
    a_job, nobody = jobs_of_a["a"], jobs_of_a["nobody"]
    for who, sees_a in [("a", True), ("admin", True), ("b", False), ("viewer", False)]:
        client = people[who]
        for url in [
            "/",
            "/jobs",
            "/failed",
            "/jobs?q=answered",
            "/jobs?task=process_integration_data",
        ]:
            assert (a_job in job_ids_on(client, url)) is sees_a, (who, url)
        assert nobody in job_ids_on(client, "/jobs"), who
        assert (a_job in api_ids(client)) is sees_a, who
        assert (a_job in api_ids(client, "?q=answered")) is sees_a, who
        assert client.get(f"/jobs/{a_job}").status_code == (200 if sees_a else 404), who
        assert client.get(f"/api/job-logs/{a_job}").status_code == (200 if sees_a else 404)
        stats = client.get("/api/job-logs/stats").get_json()
        assert stats["by_status"]["failed"] == (1 if sees_a else 0), who
        assert client.get("/api/queues").get_json()["failed"] == (1 if sees_a else 0), who
        if who != "viewer":
            exported = [json.loads(line)["id"] for line in export_job_logs(client).splitlines()]
            assert (a_job in exported) is sees_a and nobody in exported, who


def test_another_operators_job_cannot_be_retried_or_cancelled(app, people, jobs_of_a):
    a_job, b = jobs_of_a["a"], people["b"]
    assert b.post(f"/jobs/{a_job}/retry").status_code == 404
    assert b.post(f"/api/job-logs/{a_job}/retry", headers=b.token).status_code == 404
    assert b.post(f"/api/job-logs/{a_job}/cancel", headers=b.token).status_code == 404
    b.post("/failed/retry", data={"ids": [str(a_job)]})
    b.post("/jobs/bulk", data={"ids": [str(a_job)], "action": "retry"})
    assert db.session.scalar(select(JobLog.id).where(JobLog.retry_of == a_job)) is None
    # a's own retry stays a's, wherever it is seen
    admin = people["admin"]
    assert admin.post(f"/api/job-logs/{a_job}/retry", headers=admin.token).status_code == 202
    retried = db.session.scalars(select(JobLog).where(JobLog.retry_of == a_job)).one()
    assert retried.user_id == jobs_of_a["integration"].user_id
    assert retried.id in api_ids(people["a"]) and retried.id not in api_ids(b)


def test_another_operators_batch_members_are_neither_retried_nor_cancelled(app, people, users):
    a = user_by_email("operator@example.com")
    batch = batches.create_batch("a's batch", 2, user_id=a.id)
    failed, pending = (
        JobLog(task="noop", status="failed", user_id=a.id, batch_id=batch.id),
        JobLog(task="noop", status="pending", user_id=a.id, batch_id=batch.id),
    )
    db.session.add_all([failed, pending])
    db.session.commit()
    b = people["b"]
    assert b.post(f"/api/batches/{batch.id}/retry-failed", headers=b.token).status_code == 404
    assert b.post(f"/api/batches/{batch.id}/cancel", headers=b.token).status_code == 404
    b.post(f"/batches/{batch.id}/retry-failed")
    b.post(f"/batches/{batch.id}/cancel")
    db.session.expire_all()
    assert db.session.get(type(batch), batch.id).cancelled_at is None
    assert db.session.scalar(select(JobLog.id).where(JobLog.retry_of == failed.id)) is None
    db.session.expire_all()
    assert db.session.get(JobLog, pending.id).status == "pending"
    own = people["a"].post(f"/api/batches/{batch.id}/retry-failed", headers=people["a"].token)
    assert own.get_json()["retried"] == 1


def test_scheduled_integration_jobs_belong_to_the_integrations_owner(app, people, users):
    integration = create_integration(
        users["operator"].id, "tvmaze_upcoming", "", {"tvmaze_id": 1}, 1
    )
    app.config["TVMAZE_URL"] = "http://127.0.0.1:9"  # nothing listens there
    [job_id] = dispatch_due()
    assert db.session.get(JobLog, job_id).user_id == integration.user_id
    assert people["b"].get(f"/jobs/{job_id}").status_code == 404
    assert people["a"].get(f"/jobs/{job_id}").status_code == 200


def test_viewers_read_their_integrations_but_never_create_fetch_or_change_them(
    app, people, users, upstream
):
    viewer = people["viewer"]
    own = create_integration(users["viewer"].id, "json_url", "Mine", {"url": upstream.url}, 60)
    assert viewer.get(f"/integrations/{own.id}").status_code == 200
    created = viewer.post(
        "/integrations",
        data={"service": "json_url", "url": upstream.url, "update_frequency_minutes": 60},
    )
    assert created.status_code == 403
    for action in ("fetch", "toggle", "delete"):
        assert viewer.post(f"/integrations/{own.id}/{action}").status_code == 403, action
    assert upstream.calls == []
    assert db.session.scalar(select(Integration.active).where(Integration.id == own.id))


# -- outbound requests are fenced ------------------------------------------------------------


def test_an_integration_cannot_reach_a_private_address(app, people, upstream):
    app.config["OUTBOUND_ALLOW_PRIVATE"] = False
    integration = add_json_url(people["a"], f"{upstream.url}/internal")
    people["a"].post(f"/integrations/{integration.id}/fetch")
    db.session.refresh(integration)
    assert upstream.calls == []
    assert "private, loopback or reserved address" in integration.last_error
    job = db.session.scalars(select(JobLog).where(JobLog.task == "process_integration_data"))
    assert job.one().status == "failed"


@pytest.mark.parametrize(
    "location", ["http://10.1.2.3/admin", "http://[::1]:80/", "file:///etc/passwd"]
)
def test_every_redirect_is_fenced_too(app, upstream, monkeypatch, location):
    app.config["OUTBOUND_ALLOW_PRIVATE"] = False
    # pretend the fake upstream is on the internet; where it redirects to stays private
    monkeypatch.setattr(outbound, "is_public", lambda address: address == "127.0.0.1")
    upstream.routes["/go"] = Response("", 302, {"Location": location})
    upstream.routes["/fine"] = Response('{"ok": true}', 200, mimetype="application/json")
    assert outbound.request("GET", f"{upstream.url}/fine").json() == {"ok": True}
    with pytest.raises(outbound.OutboundRefused):
        outbound.request("GET", f"{upstream.url}/go")


def test_too_many_redirects_and_too_large_responses_are_refused(app, upstream):
    import httpx

    upstream.routes["/loop"] = Response("", 302, {"Location": "/loop"})
    with pytest.raises(httpx.TooManyRedirects):
        outbound.request("GET", f"{upstream.url}/loop")
    assert len(upstream.calls) == outbound.MAX_REDIRECTS + 1
    app.config["OUTBOUND_MAX_BYTES"] = 1000
    upstream.routes["/big"] = Response("x" * 5000, 200)
    with pytest.raises(outbound.ResponseTooLarge):
        outbound.request("GET", f"{upstream.url}/big")


def test_the_alert_webhook_is_fenced(app, upstream, caplog):
    from webapp.services import alerts

    app.config.update(OUTBOUND_ALLOW_PRIVATE=False, ALERT_WEBHOOK_URL=f"{upstream.url}/hook?k=1")
    alert = alerts.raise_alert("test", "Something is wrong.")
    alerts.notify(alert, "raised")
    assert upstream.calls == [] and not alert.notified
    assert "private, loopback or reserved" in caplog.text
    app.config["OUTBOUND_ALLOW_PRIVATE"] = True
    alerts.notify(alert, "raised")
    assert upstream.calls == ["/hook?k=1"]


# -- login and tokens ------------------------------------------------------------------------


def test_guessing_a_password_is_stopped_with_429_and_retry_after(client, users):
    statuses = [
        client.post("/login", data={"email": "operator@example.com", "password": f"guess{n}"})
        for n in range(6)
    ]
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    refused = statuses[-1]
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    # even the right password waits now: the account is throttled, not just the guesses
    right = client.post("/login", data={"email": "operator@example.com", "password": PASSWORD})
    assert right.status_code == 429


def test_guessing_across_accounts_from_one_address_is_stopped(client, users):
    for n in range(5):
        wrong = client.post("/login", data={"email": f"nobody{n}@example.com", "password": "x"})
        assert wrong.status_code == 401
    other = client.post("/login", data={"email": "viewer@example.com", "password": "x"})
    assert other.status_code == 429
    elsewhere = client.post(
        "/login",
        data={"email": "viewer@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert elsewhere.status_code == 302


def test_guessing_api_tokens_is_stopped(client, bearer):
    statuses = [
        client.get("/api/queues", headers={"Authorization": f"Bearer jd_guess{n}"})
        for n in range(6)
    ]
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    assert statuses[-1].get_json()["error"]["code"] == "too_many_requests"
    assert int(statuses[-1].headers["Retry-After"]) > 0


def test_an_unknown_email_takes_as_long_to_refuse_as_a_known_one(client, users):
    def median_seconds(email: str) -> float:
        times = []
        for _ in range(20):
            start = time.perf_counter()
            client.post("/login", data={"email": email, "password": "wrong"})
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    client.application.config["LOGIN_MAX_FAILURES"] = 1000
    known, unknown = median_seconds("admin@example.com"), median_seconds("ghost@example.com")
    assert 0.5 < known / unknown < 2, (known, unknown)


# -- headers ---------------------------------------------------------------------------------


def test_every_page_carries_the_security_headers(client, login):
    login("viewer")
    for url in ["/login", "/", "/jobs", "/api/job-logs", "/nowhere"]:
        headers = client.get(url).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "unsafe-inline" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script_or_style(client, login):
    login("admin")
    for url in ["/", "/jobs", "/failed", "/schedules", "/integrations", "/series", "/imports"]:
        page = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert " style=" not in page and "<style" not in page, url


def session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))


def login_response(client: FlaskClient, **kwargs):
    data = {"email": "viewer@example.com", "password": PASSWORD}
    return client.post("/login", data=data, **kwargs)


def test_the_session_cookie_is_secure_over_https(client, users):
    assert "Secure" not in session_cookie(login_response(client))
    secure = login_response(client.application.test_client(), base_url="https://jobdeck.example")
    assert "Secure" in session_cookie(secure)
    # a forwarded header is not believed unless the proxy is trusted
    forwarded = login_response(
        client.application.test_client(), headers={"X-Forwarded-Proto": "https"}
    )
    assert "Secure" not in session_cookie(forwarded)


def test_a_trusted_proxy_says_when_it_was_https(database, tmp_path, monkeypatch):
    app = make_app(database, tmp_path, monkeypatch, TRUST_PROXY_HEADERS=True)
    with app.app_context():
        create_user("viewer@example.com", PASSWORD, "viewer")
        response = login_response(app.test_client(), headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in session_cookie(response)
        db.session.remove()
        db.engine.dispose()


def test_integration_secrets_are_encrypted_with_the_encryption_key(app, users, upstream):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    app.config["ENCRYPTION_KEY"] = key.decode()
    url = f"{upstream.url}/feed?token={SECRET}"
    integration = create_integration(users["operator"].id, "json_url", "", {"url": url}, 60)
    assert json.loads(Fernet(key).decrypt(integration.encrypted_settings.encode())) == {"url": url}
    assert integration.to_dict()["settings"] == {"url": f"{upstream.url}/feed?token=…-XYZ"}
    # another key cannot read it: the job fails saying why, and never calls out
    app.config["ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    [job_id] = dispatch_due()
    job = db.session.get(JobLog, job_id)
    assert job.status == "failed" and "cannot be decrypted" in job.error
    assert upstream.calls == []
