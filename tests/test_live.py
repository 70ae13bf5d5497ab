"""Live pages: an unchanged poll is an empty 304, a change is a 200 with the new content, and
what every viewer sees is versioned apart (user, role, time zone)."""

import pytest

from jobkit import pauses
from tests.conftest import PASSWORD
from tests.test_waiting import job
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.services import alerts, consumers, live, metrics

HTMX = {"HX-Request": "true"}


@pytest.fixture
def frozen_minute(monkeypatch):
    """The dashboard's windows slide each minute; hold the minute still for a test."""
    now = utcnow()
    monkeypatch.setattr(live, "utcnow", lambda: now)
    return now


def poll(client, url, etag=None, **headers):
    sent = {**HTMX, **headers}
    if etag:
        sent["If-None-Match"] = etag
    return client.get(url, headers=sent)


@pytest.mark.parametrize("url", ["/", "/jobs/{id}"])
def test_an_unchanged_poll_is_304_and_a_change_is_200(client, login, frozen_minute, url):
    login("viewer")
    watched = job(message="first words")
    url = url.format(id=watched.id)
    first = poll(client, url)
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-store"
    assert {"HX-Request", "Cookie"} <= set(first.headers["Vary"].split(", "))

    again = poll(client, url, first.headers["ETag"])
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "no-store"

    watched.status, watched.message = "running", "second words"
    watched.started_at = utcnow()
    db.session.commit()
    changed = poll(client, url, first.headers["ETag"])
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    body = changed.get_data(as_text=True)
    assert 'class="badge badge-running"' in body
    assert poll(client, url, changed.headers["ETag"]).status_code == 304


def test_each_thing_the_dashboard_shows_changes_its_etag(client, login, frozen_minute, users):
    login("operator")
    tags = [poll(client, "/").headers["ETag"]]

    def changed() -> bool:
        tags.append(poll(client, "/", tags[-1]).headers["ETag"])
        return tags[-1] != tags[-2]

    assert not changed()
    job()
    assert changed()  # queued
    pauses.pause("queue", "low", user_id=users["operator"].id)
    assert changed()
    consumers.register("host:1", 1, 2)
    assert changed()
    alerts.raise_alert("failures-last-hour", "11 jobs failed in the last hour")
    assert changed()
    alerts.raise_alert("failures-last-hour", "12 jobs failed in the last hour")
    assert changed()  # the same alert's text
    done = job(status="completed", started_at=utcnow(), finished_at=utcnow())
    assert changed()
    # a finished job whose write lands late, timed before the newest one
    job(status="failed", started_at=done.started_at, finished_at=done.finished_at)
    assert changed()
    assert not changed()
    assert "12 jobs failed in the last hour" in poll(client, "/").get_data(as_text=True)


def test_another_user_role_or_zone_gets_another_etag(client, login, users, frozen_minute, app):
    job()
    login("viewer")
    as_viewer = poll(client, "/").headers["ETag"]
    client.set_cookie("jobdeck_tz", "Asia/Tokyo")
    in_tokyo = poll(client, "/", as_viewer)
    assert in_tokyo.status_code == 200 and in_tokyo.headers["ETag"] != as_viewer
    users["viewer"].timezone = "America/New_York"
    db.session.commit()
    in_new_york = poll(client, "/", in_tokyo.headers["ETag"])
    assert in_new_york.status_code == 200
    users["viewer"].timezone, users["viewer"].role = "", "operator"
    db.session.commit()
    promoted = poll(client, "/", in_tokyo.headers["ETag"])
    assert promoted.status_code == 200  # an operator sees pause buttons a viewer does not
    assert "Pause" in promoted.get_data(as_text=True)

    other = app.test_client()
    other.set_cookie("jobdeck_tz", "Asia/Tokyo")
    other.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    as_admin = poll(other, "/", promoted.headers["ETag"])
    assert as_admin.status_code == 200
    assert as_admin.headers["ETag"] not in {as_viewer, promoted.headers["ETag"]}


def test_the_whole_page_and_the_fragment_have_their_own_etags(client, login, frozen_minute):
    login("viewer")
    whole = client.get("/")
    fragment = poll(client, "/")
    assert whole.headers["ETag"] != fragment.headers["ETag"]
    repeat = client.get("/", headers={"If-None-Match": fragment.headers["ETag"]})
    assert repeat.status_code == 200 and "<html" in repeat.get_data(as_text=True)


@pytest.mark.parametrize("etag", ['"nope"', "garbage", 'W/"x"', '"a", "b"', ""])
def test_a_stale_or_malformed_etag_gets_the_page(client, login, frozen_minute, etag):
    login("viewer")
    response = client.get("/", headers={**HTMX, "If-None-Match": etag})
    assert response.status_code == 200
    assert 'id="dashboard_live"' in response.get_data(as_text=True)


def test_a_signed_out_poll_is_not_answered_304(client, login, frozen_minute):
    login("viewer")
    etag = poll(client, "/").headers["ETag"]
    client.post("/logout")
    response = poll(client, "/", etag)
    assert response.status_code != 304 and response.status_code in (302, 401)


def test_an_unchanged_poll_builds_nothing_of_the_page(client, login, frozen_minute, monkeypatch):
    login("viewer")
    etag = poll(client, "/").headers["ETag"]
    reads = []
    dashboard = metrics.dashboard
    monkeypatch.setattr(metrics, "dashboard", lambda: reads.append(1) or dashboard())
    assert poll(client, "/", etag).status_code == 304
    assert reads == []  # neither the roll-ups, nor the wait-time sample, nor the template
    job()
    assert poll(client, "/", etag).status_code == 200 and reads == [1]
