"""Integrations: due, processing and failed states, the two plugins, and their commands."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tasks.integrations import check_integration_updates, dispatch_due
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.integrations import Integration
from webapp.models.jobs import JobLog
from webapp.services import integrations as service
from webapp.services.users import issue_token


def make(user, service_name="tvmaze_upcoming", settings=None, minutes=60) -> Integration:
    return service.create_integration(
        user.id, service_name, "", settings or {"tvmaze_id": "82"}, minutes
    )


def test_settings_are_validated(users):
    owner = users["operator"]
    with pytest.raises(service.IntegrationError, match="tvmaze_id"):
        make(owner, settings={"tvmaze_id": "abc"})
    with pytest.raises(service.IntegrationError, match="url"):
        make(owner, "json_url", {"url": "ftp://example.com/x"})
    with pytest.raises(service.IntegrationError, match="unknown service"):
        make(owner, "myspace")
    with pytest.raises(service.IntegrationError, match="at least 1 minute"):
        make(owner, minutes=0)
    assert db.session.scalars(select(Integration)).all() == []


def test_due_processing_and_success(users, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones", episodes=2)
    fake_tvmaze.episodes[82][1]["airdate"] = "2999-01-01"
    integration = make(users["operator"])
    assert integration.state == "due" and integration.is_due()

    check_integration_updates.dispatch()
    db.session.refresh(integration)
    assert integration.state == "up to date"
    assert integration.data["show"] == "Game of Thrones"
    assert [e["airdate"] for e in integration.data["upcoming"]] == ["2999-01-01"]
    assert integration.last_successful_update_at >= integration.last_triggered_at
    job = db.session.scalars(select(JobLog).where(JobLog.task == "process_integration_data")).one()
    assert job.source == {"type": "integration", "id": integration.id}
    assert job.message == f"{integration.name}: changed."

    assert dispatch_due() == []  # not due again for an hour
    integration.last_triggered_at = utcnow() - timedelta(minutes=62)
    integration.last_successful_update_at = utcnow() - timedelta(minutes=61)
    db.session.commit()
    assert len(dispatch_due()) == 1
    last = db.session.scalars(select(JobLog).order_by(JobLog.id.desc())).first()
    assert last.message.endswith("unchanged.")


def test_a_processing_integration_is_never_dispatched_twice(queued):
    from webapp.services.users import create_user

    integration = make(create_user("owner@example.com", "long-password"))
    assert len(dispatch_due()) == 1
    db.session.refresh(integration)
    assert integration.state == "processing"
    assert dispatch_due() == [] and dispatch_due(force=True) == []


def test_a_failure_after_the_last_retry_clears_the_trigger_and_keeps_the_error(users, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones")
    fake_tvmaze.broken["/shows/82"] = 500
    integration = make(users["operator"])
    dispatch_due()
    db.session.refresh(integration)
    job = db.session.scalars(select(JobLog)).one()
    assert job.status == "failed" and job.attempts == job.max_attempts == 3
    assert integration.last_triggered_at is None
    assert "TVmaze answered 500 on /shows/82" in integration.last_error
    assert integration.state == "failed"
    assert not integration.is_due()  # the next attempt waits the full frequency
    integration.last_error_at = utcnow() - timedelta(minutes=61)
    db.session.commit()
    assert integration.is_due()


def test_the_json_url_poller_stores_snapshots_and_notices_change(users, fake_tvmaze):
    fake_tvmaze.add_show(5, "Five")
    url = fake_tvmaze_url(fake_tvmaze) + "/shows/5"
    integration = make(users["viewer"], "json_url", {"url": url}, minutes=1)
    dispatch_due()
    db.session.refresh(integration)
    assert integration.data["body"]["name"] == "Five"
    first_change = integration.data_changed_at
    fake_tvmaze.shows[5]["name"] = "Five (renamed)"
    dispatch_due(force=True)
    db.session.refresh(integration)
    assert integration.data["body"]["name"] == "Five (renamed)"
    assert integration.data_changed_at > first_change


def test_a_json_url_that_answers_404_fails_without_retries(users, fake_tvmaze):
    integration = make(users["viewer"], "json_url", {"url": fake_tvmaze_url(fake_tvmaze) + "/x"})
    dispatch_due()
    job = db.session.scalars(select(JobLog)).one()
    assert job.status == "failed" and job.attempts == 1
    db.session.refresh(integration)
    assert "answered 404" in integration.last_error and integration.last_triggered_at is None


def fake_tvmaze_url(fake) -> str:
    from flask import current_app

    return current_app.config["TVMAZE_URL"]


def test_integrations_commands(runner, users, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones")
    make(users["operator"])
    make(users["admin"], "json_url", {"url": fake_tvmaze_url(fake_tvmaze) + "/shows/82"})
    listed = json.loads(runner.invoke(args=["integrations", "list", "--json"]).output)
    assert [i["state"] for i in listed] == ["due", "due"]
    fetched = runner.invoke(args=["integrations", "fetch", "--service", "json_url"])
    assert fetched.output.strip() == "Dispatched 1 integration updates."
    table = runner.invoke(args=["integrations", "list"]).output
    assert "json_url" in table and "up to date" in table
    assert runner.invoke(args=["integrations", "fetch"]).output.strip() == (
        "Dispatched 1 integration updates."
    )
    forced = runner.invoke(args=["integrations", "fetch", "--force"])
    assert forced.output.strip() == "Dispatched 2 integration updates."
    unknown = runner.invoke(args=["integrations", "fetch", "--service", "nope"])
    assert unknown.exit_code == 1 and "unknown service" in unknown.output


def calls_to(fake, path: str) -> int:
    return sum(1 for p in fake.paths() if p == path)


def test_a_show_tvmaze_does_not_know_fails_at_once_and_waits_its_frequency(
    runner, users, fake_tvmaze
):
    integration = make(users["operator"], settings={"tvmaze_id": "404404"})
    fetched = runner.invoke(args=["integrations", "fetch"])
    assert fetched.output.strip() == "Dispatched 1 integration updates."
    job = db.session.scalars(select(JobLog)).one()
    assert (job.status, job.attempts) == ("failed", 1)  # no retries for a 404
    assert calls_to(fake_tvmaze, "/shows/404404") == 1
    [listed] = json.loads(runner.invoke(args=["integrations", "list", "--json"]).output)
    assert listed["state"] == "failed" and "nothing at /shows/404404" in listed["last_error"]
    # the checks every 30 s leave it alone until its 60 minutes have passed
    for _ in range(3):
        assert runner.invoke(args=["integrations", "fetch"]).output.strip() == (
            "Dispatched 0 integration updates."
        )
    assert calls_to(fake_tvmaze, "/shows/404404") == 1
    db.session.refresh(integration)
    integration.last_error_at = utcnow() - timedelta(minutes=60, seconds=1)
    db.session.commit()
    assert runner.invoke(args=["integrations", "fetch"]).output.strip() == (
        "Dispatched 1 integration updates."
    )


def test_a_401_fails_at_once(users, fake_tvmaze):
    fake_tvmaze.broken["/private"] = 401
    url = fake_tvmaze_url(fake_tvmaze) + "/private"
    integration = make(users["viewer"], "json_url", {"url": url})
    dispatch_due()
    job = db.session.scalars(select(JobLog)).one()
    assert (job.status, job.attempts) == ("failed", 1)
    assert calls_to(fake_tvmaze, "/private") == 1
    db.session.refresh(integration)
    assert integration.state == "failed" and "answered 401" in integration.last_error


def test_settings_spoiled_after_saving_fail_at_once(users, fake_tvmaze):
    integration = make(users["operator"])
    integration.settings = {"tvmaze_id": "abc"}
    db.session.commit()
    dispatch_due()
    job = db.session.scalars(select(JobLog)).one()
    assert (job.status, job.attempts) == ("failed", 1) and fake_tvmaze.paths() == []
    db.session.refresh(integration)
    assert integration.state == "failed" and "tvmaze_id" in integration.last_error


def test_a_timed_out_job_ends_the_processing_state(users, fake_tvmaze, monkeypatch):
    from tasks.integrations import process_integration_data

    fake_tvmaze.add_show(82, "Game of Thrones")
    monkeypatch.setattr(process_integration_data, "timeout", 1e-6)
    integration = make(users["operator"])
    dispatch_due()
    job = db.session.scalars(select(JobLog)).one()
    assert job.status == "failed" and "JobTimeout" in job.error
    db.session.refresh(integration)
    assert not integration.processing and integration.state == "failed"
    assert "timeout" in integration.last_error


def test_cancelling_a_waiting_job_ends_the_processing_state(queued, monkeypatch):
    from webapp.services.users import create_user

    owner = create_user("owner@example.com", "long-password", "operator")
    client, runner = queued.test_client(), queued.test_cli_runner()
    headers = {"Authorization": f"Bearer {issue_token(owner)}"}
    integration = make(owner)
    [job_id] = dispatch_due()
    monkeypatch.setattr(service, "CLAIM_GRACE_SECONDS", 0)
    assert dispatch_due() == []  # its job still waits: never dispatched twice
    assert client.post(f"/api/job-logs/{job_id}/cancel", headers=headers).status_code == 200
    assert runner.invoke(args=["integrations", "fetch"]).output.strip() == (
        "Dispatched 0 integration updates."
    )  # released, and a cancel counts as a final failure: it waits its frequency
    [listed] = json.loads(runner.invoke(args=["integrations", "list", "--json"]).output)
    assert listed["state"] == "failed"
    assert listed["last_error"] == f"its job #{job_id} was cancelled"
    page = client.get(f"/integrations/{integration.id}", headers=headers)
    assert "processing" not in page.get_data(as_text=True)
    forced = runner.invoke(args=["integrations", "fetch", "--force"])
    assert forced.output.strip() == "Dispatched 1 integration updates."
