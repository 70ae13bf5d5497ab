"""Times on pages: in the viewer's zone (their setting, else the browser's, else the server's),
one format everywhere, with the time in UTC as the tooltip."""

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from tasks.samples import sample_job
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.schedules import ScheduleRun
from webapp.services import consumers
from webapp.services import schedules as schedule_service


def created_cell(client, job_id: int) -> tuple[str, str]:
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    found = re.search(
        r'<time datetime="2026-01-15T12:00:00\+00:00" title="([^"]+)">([^<]+)</time>', html
    )
    assert found, html
    return found.group(1), found.group(2)


def a_job() -> int:
    job_id = sample_job.dispatch(steps=1, step_seconds=0)
    db.session.get(JobLog, job_id).created_at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    db.session.commit()
    return job_id


def test_times_follow_the_users_zone_then_the_browsers_then_the_servers(client, login, app):
    user = login("viewer")
    job_id = a_job()
    assert created_cell(client, job_id) == ("2026-01-15 12:00:00 UTC", "2026-01-15 12:00:00 UTC")
    client.set_cookie("jobdeck_tz", "Asia/Tokyo")
    assert created_cell(client, job_id)[1] == "2026-01-15 21:00:00 JST"
    user.timezone = "America/New_York"
    db.session.commit()
    assert created_cell(client, job_id) == ("2026-01-15 12:00:00 UTC", "2026-01-15 07:00:00 EST")
    client.set_cookie("jobdeck_tz", "Not/AZone")
    user.timezone = ""
    db.session.commit()
    app.config["DISPLAY_TIMEZONE"] = "Europe/Berlin"
    assert created_cell(client, job_id)[1] == "2026-01-15 13:00:00 CET"


def test_the_account_page_sets_the_zone(client, login):
    user = login("viewer")
    page = client.get("/account")
    assert page.status_code == 200 and "The browser&#39;s time zone" in page.get_data(as_text=True)
    saved = client.post("/account", data={"timezone": "Europe/Paris"})
    assert saved.status_code == 302 and user.timezone == "Europe/Paris"
    for not_a_place in ("Mars/Olympus", "localtime", "Factory"):
        refused = client.post("/account", data={"timezone": not_a_place})
        assert refused.status_code == 422 and user.timezone == "Europe/Paris"
    assert client.post("/account", data={"timezone": ""}).status_code == 302
    assert user.timezone == ""


class VisibleText(HTMLParser):
    """A page's text as a reader sees it: no tags, no attributes (tooltips), no code blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style", "pre", "code", "textarea"):
            self.hidden += 1

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style", "pre", "code", "textarea"):
            self.hidden -= 1

    def handle_data(self, data) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    reader = VisibleText()
    reader.feed(html)
    return " ".join(" ".join(reader.parts).split())


ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
NOON_UTC = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NOON_IN_TOKYO = "2026-01-15 21:00:00 JST"


def a_failed_job_with_attempts() -> JobLog:
    job_id = a_job()
    job = db.session.get(JobLog, job_id)
    job.status, job.attempts, job.max_attempts = "failed", 2, 2
    job.attempt_errors = [
        {"attempt": 1, "error": "Timeout: upstream", "at": "2026-01-15T12:00:00Z"},
        {"attempt": 2, "error": "Timeout: again", "at": "2026-01-15T12:05:00Z"},
    ]
    job.finished_at = NOON_UTC
    db.session.commit()
    return job


def test_the_attempt_list_shows_each_time_in_the_viewers_zone_with_utc_as_tooltip(client, login):
    login("viewer").timezone = "Asia/Tokyo"
    db.session.commit()
    job = a_failed_job_with_attempts()
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    attempts = html[html.index("<h2>Attempts</h2>") :]
    assert (
        '<time datetime="2026-01-15T12:00:00+00:00" title="2026-01-15 12:00:00 UTC">'
        f"{NOON_IN_TOKYO}</time>" in attempts
    )
    assert "2026-01-15 21:05:00 JST" in attempts
    assert not ISO.search(visible(html)), visible(html)


def test_why_it_waits_shows_its_times_in_the_viewers_zone_and_the_api_in_utc(client, login, bearer):
    login("viewer").timezone = "America/New_York"
    db.session.commit()
    consumers.register("host:1", 1, 2)
    job = db.session.get(JobLog, a_job())
    job.status, job.attempts, job.finished_at = "pending", 1, None
    job.next_attempt_at = datetime(2099, 7, 1, 12, 0, tzinfo=UTC)
    db.session.commit()
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    reason = visible(html[html.index('class="waiting-reason"') :].split("</p>")[0] + "</p>")
    assert "Waiting for its retry at 2099-07-01 08:00:00 EDT (attempt 2 of" in reason
    assert "UTC" not in reason
    assert 'title="2099-07-01 12:00:00 UTC"' in html
    api = client.get(f"/api/job-logs/{job.id}", headers=bearer("viewer")).get_json()
    assert "2099-07-01 12:00:00 UTC" in api["waiting_reason"]["message"]


def test_no_page_shows_a_raw_iso_time(client, login, app):
    login("admin").timezone = "Asia/Tokyo"
    db.session.commit()
    job = a_failed_job_with_attempts()
    schedule = schedule_service.create_schedule(
        {
            "name": "Prune",
            "command": "jobs prune",
            "parameters": {"--days": "3"},
            "cron": "0 3 * * *",
            "timezone": "Europe/Berlin",
        }
    )
    run = ScheduleRun(
        schedule_id=schedule.id,
        due_at=NOON_UTC,
        trigger="catch-up",
        note="3 run(s) missed from 2026-01-14T02:00:00Z to 2026-01-15T12:00:00Z while no "
        "consumer was running; caught up once.",
    )
    db.session.add(run)
    db.session.commit()
    # a bulk retry chosen by time: its audit row keeps the filter, shown like any time
    retried = client.post("/failed/retry", data={"all": "1", "since": "2026-01-15T20:00"})
    assert retried.status_code == 302
    pages = [
        "/",
        "/jobs",
        f"/jobs/{job.id}",
        "/failed",
        "/schedules",
        f"/schedules/{schedule.id}",
        "/audit",
        "/batches",
        "/imports",
        "/exports",
        "/series",
        "/integrations",
        "/users",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        text = visible(response.get_data(as_text=True))
        assert not ISO.search(text), (url, ISO.search(text).group())
    history = visible(client.get(f"/schedules/{schedule.id}").get_data(as_text=True))
    assert "missed from 2026-01-14 11:00:00 JST to 2026-01-15 21:00:00 JST" in history
    audit_page = client.get("/audit").get_data(as_text=True)
    assert 'since=<time datetime="2026-01-15T11:00:00+00:00"' in audit_page
    assert "where since= 2026-01-15 20:00:00 JST" in visible(audit_page)


def test_the_jobs_filters_are_read_in_the_viewers_zone_and_say_which(client, login):
    login("viewer").timezone = "Asia/Tokyo"
    db.session.commit()
    job_id = a_job()  # created 12:00 UTC, 21:00 in Tokyo

    def listed(**query) -> tuple[bool, str]:
        html = client.get("/jobs", query_string=query).get_data(as_text=True)
        return f'href="/jobs/{job_id}"' in html, html

    shown, html = listed(since="2026-01-15T20:30")  # 11:30 UTC: before it
    assert shown and "in Asia/Tokyo time" in visible(html)
    # the form shows the time as typed; the links (pager, polling) carry it in UTC
    assert 'value="2026-01-15T20:30"' in html
    assert not listed(since="2026-01-15T21:30")[0]  # 12:30 UTC: after it
    assert listed(until="2026-01-15T21:30")[0]
    assert not listed(until="2026-01-15T20:30")[0]
    # a link's UTC time means the same moment to whoever opens it
    assert listed(since="2026-01-15T11:30:00Z")[0]
    assert not listed(since="2026-01-15T12:30:00Z")[0]
    failed = client.get("/failed", query_string={"since": "2026-01-15T20:30"})
    assert failed.status_code == 200 and "in Asia/Tokyo time" in visible(failed.get_data(True))


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:30", "9999-12-31T23:59", "yesterday", "2026-02-30T10:00"]
)
def test_a_filter_time_outside_the_calendar_in_the_viewers_zone_is_a_message(client, login, since):
    login("viewer").timezone = "Asia/Tokyo" if since.startswith("0001") else "America/New_York"
    db.session.commit()
    page = client.get("/jobs", query_string={"since": since})
    assert page.status_code == 400
    assert "Created after:" in visible(page.get_data(as_text=True))


def test_a_schedules_next_run_is_shown_in_its_zone_and_the_viewers(client, login):
    login("viewer").timezone = "America/New_York"
    db.session.commit()
    schedule = schedule_service.create_schedule(
        {
            "name": "Prune",
            "command": "jobs prune",
            "parameters": {"--days": "3"},
            "cron": "0 3 * * *",
            "timezone": "Europe/Berlin",
        }
    )
    berlin = schedule.next_run_at.astimezone(ZoneInfo("Europe/Berlin"))
    new_york = schedule.next_run_at.astimezone(ZoneInfo("America/New_York"))
    for url in ("/schedules", f"/schedules/{schedule.id}"):
        text = visible(client.get(url).get_data(as_text=True))
        assert f"{berlin:%Y-%m-%d} 03:00:00 {berlin.tzname()} (Europe/Berlin;" in text, url
        assert f"{new_york:%Y-%m-%d %H:%M:%S} {new_york.tzname()} your time)" in text, url


def test_a_typed_filter_time_is_pushed_into_the_address_in_utc(client, login):
    """The filter form sends the wall time the viewer typed; the address htmx pushes carries it
    in UTC, so a copied link shows the same jobs to a viewer in another zone."""
    login("viewer")
    client.set_cookie("jobdeck_tz", "Europe/Berlin")
    htmx = {"HX-Request": "true"}
    typed = client.get("/jobs?since=2026-12-01T15:23:04&status=failed", headers=htmx)
    assert typed.status_code == 200
    assert typed.headers["HX-Push-Url"] == "/jobs?status=failed&since=2026-12-01T14:23:04Z"
    # a time with its zone, a poll, or a whole page push nothing of their own
    assert "HX-Push-Url" not in client.get("/jobs?since=2026-12-01T14:23:04Z", headers=htmx).headers
    assert "HX-Push-Url" not in client.get("/jobs?since=2026-12-01T15:23:04").headers
    failed = client.get("/failed?until=2026-07-01T02:00&group=1", headers=htmx)
    assert failed.headers["HX-Push-Url"] == "/failed?until=2026-07-01T00:00:00Z&group=1"
    # the pushed address shows a New York viewer the same moment
    client.set_cookie("jobdeck_tz", "America/New_York")
    page = client.get(typed.headers["HX-Push-Url"]).get_data(as_text=True)
    assert 'value="2026-12-01T09:23:04"' in page
