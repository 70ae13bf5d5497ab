"""A secret in an integration's URL, through a real consumer: the job uses it, its log never
shows it."""

from werkzeug.wrappers import Response

from tasks.integrations import dispatch_due
from tests.e2e.conftest import wait_for
from tests.fake_tvmaze import FakeServer
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.users import Role
from webapp.services.integrations import create_integration
from webapp.services.users import create_user

SECRET = "SECRET-XYZ"


def test_the_consumers_log_never_shows_an_integrations_secret(e2e):
    calls: list[str] = []

    def upstream(environ, start_response):
        calls.append(environ.get("QUERY_STRING", ""))
        return Response("no such feed", 404)(environ, start_response)

    server = FakeServer(upstream)
    try:
        owner = create_user("owner@example.com", "correct-horse", Role.OPERATOR.value)
        url = f"{server.url}/feed?api_key={SECRET}"
        create_integration(owner.id, "json_url", "Feed", {"url": url}, 60)
        [job_id] = dispatch_due()
        consumer = e2e["start"](verbose=True)  # INFO: httpx logs every URL it requests
        wait_for(lambda: db.session.get(JobLog, job_id).status == "failed", what="failure")
        consumer.stop()
    finally:
        server.stop()
    assert calls == [f"api_key={SECRET}"]
    output = consumer.output()
    assert "HTTP Request: GET" in output and "answered 404" in output
    assert SECRET not in output
    job = db.session.get(JobLog, job_id)
    assert SECRET not in f"{job.error} {job.traceback} {job.payload} {job.arguments}"
