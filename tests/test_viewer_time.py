"""Times on pages: in the viewer's zone (their setting, else the browser's, else the server's),
one format everywhere, with the time in UTC as the tooltip."""

import re
from datetime import UTC, datetime

from tasks.samples import sample_job
from webapp.extensions import db
from webapp.models.jobs import JobLog


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
