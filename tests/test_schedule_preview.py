"""The schedule form's preview and errors: what daylight saving does to each run (in words),
a chosen start date, both zones, and every problem of a refused form at once."""

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models.schedules import Schedule


class Runs(HTMLParser):
    """The preview's runs: each ``<li>``'s text, and its daylight notes apart."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[dict] = []
        self.in_note = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "li":
            self.runs.append({"text": "", "notes": []})
        if tag == "small" and ("class", "daylight-note") in attrs:
            self.in_note = True
            self.runs[-1]["notes"].append("")

    def handle_endtag(self, tag) -> None:
        if tag == "small":
            self.in_note = False

    def handle_data(self, data) -> None:
        if not self.runs:
            return
        if self.in_note:
            self.runs[-1]["notes"][-1] += data
        else:
            self.runs[-1]["text"] += data


def preview(client, **query) -> tuple[int, str, list[dict]]:
    response = client.get("/schedules/preview", query_string=query)
    html = response.get_data(as_text=True)
    reader = Runs()
    reader.feed(html)
    runs = [{"text": " ".join(r["text"].split()), "notes": r["notes"]} for r in reader.runs]
    return response.status_code, html, runs


def test_a_run_that_does_not_exist_in_spring_says_when_it_runs_instead(client, login):
    login("viewer")
    _, _, runs = preview(
        client, cron="30 2 * * *", timezone="Europe/Berlin", preview_from="2027-03-26"
    )
    assert [r["text"][:30] for r in runs] == [
        "Fri 2027-03-26 02:30:00 CET (E",
        "Sat 2027-03-27 02:30:00 CET (E",
        "Sun 2027-03-28 03:00:00 CEST (",
        "Mon 2027-03-29 02:30:00 CEST (",
        "Tue 2027-03-30 02:30:00 CEST (",
    ]
    assert [r["notes"] for r in runs] == [
        [],
        [],
        ["02:30 does not exist on Sun 28 Mar 2027 (the clocks go forward); runs at 03:00 CEST."],
        [],
        [],
    ]


def test_the_repeated_hour_in_autumn_says_which_occurrence_runs(client, login):
    login("viewer")
    _, _, runs = preview(
        client, cron="30 1 * * *", timezone="Europe/London", preview_from="2027-10-30"
    )
    assert runs[1]["text"].startswith("Sun 2027-10-31 01:30:00 BST")
    assert runs[1]["notes"] == [
        "01:30 happens twice on Sun 31 Oct 2027 (the clocks go back); "
        "runs once, at the first (BST)."
    ]
    assert runs[2]["text"].startswith("Mon 2027-11-01 01:30:00 GMT")
    # a schedule that repeats within the hour runs in both occurrences, and says so
    _, _, runs = preview(
        client, cron="*/20 2 * * *", timezone="Europe/Berlin", preview_from="2027-10-31"
    )
    assert [r["text"][:28] for r in runs] == [
        "Sun 2027-10-31 02:00:00 CEST",
        "Sun 2027-10-31 02:20:00 CEST",
        "Sun 2027-10-31 02:40:00 CEST",
        "Sun 2027-10-31 02:00:00 CET ",
        "Sun 2027-10-31 02:20:00 CET ",
    ]
    assert runs[0]["notes"] == [
        "02:00, 02:20 and 02:40 happen twice on Sun 31 Oct 2027 (the clocks go back); "
        "each runs at both (CEST and CET)."
    ]


def test_an_hourly_run_that_falls_in_the_gap_is_the_next_hours_run(client, login):
    login("viewer")
    _, _, runs = preview(
        client, cron="0 * * * *", timezone="Europe/Berlin", preview_from="2027-03-28"
    )
    assert [r["text"][:28] for r in runs][1:3] == [
        "Sun 2027-03-28 01:00:00 CET ",
        "Sun 2027-03-28 03:00:00 CEST",
    ]
    assert runs[2]["notes"] == [
        "02:00 does not exist on Sun 28 Mar 2027 (the clocks go forward); "
        "runs once at 03:00, with the 03:00 CEST run."
    ]


def test_lord_howes_half_hour_change_is_said_too(client, login):
    login("viewer")
    _, _, runs = preview(
        client, cron="15 2 * * *", timezone="Australia/Lord_Howe", preview_from="2027-10-02"
    )
    assert runs[1]["text"].startswith("Sun 2027-10-03 02:30:00 +11")
    assert runs[1]["notes"] == [
        "02:15 does not exist on Sun 3 Oct 2027 (the clocks go forward); runs at 02:30 +11."
    ]
    _, _, runs = preview(
        client, cron="45 1 * * *", timezone="Australia/Lord_Howe", preview_from="2027-04-03"
    )
    assert runs[1]["notes"] == [
        "01:45 happens twice on Sun 4 Apr 2027 (the clocks go back); runs once, at the first (+11)."
    ]
    assert runs[2]["text"].startswith("Mon 2027-04-05 01:45:00 +1030")


def test_the_preview_shows_the_viewers_time_beside_the_schedules(client, login):
    login("viewer").timezone = "America/New_York"
    db.session.commit()
    _, html, runs = preview(
        client, cron="0 9 * * 1", timezone="Europe/Berlin", preview_from="2027-01-01"
    )
    assert "in Europe/Berlin and in your time" in html
    assert runs[0]["text"] == (
        "Mon 2027-01-04 09:00:00 CET (Europe/Berlin; 2027-01-04 03:00:00 EST your time)"
    )
    assert 'title="2027-01-04 08:00:00 UTC"' in html


@pytest.mark.parametrize(
    ("start", "said"),
    [
        ("0001-01-01", "a preview starts at a date from 1900-01-01 to 9998-12-31"),
        ("9999-12-31", "a preview starts at a date from 1900-01-01 to 9998-12-31"),
        ("2027-02-30", "is not a date like 2027-03-28"),
        ("tomorrow", "is not a date like 2027-03-28"),
        ("2027-03-28T00:00:00" + "9" * 5000, "is not a date like 2027-03-28"),
    ],
)
def test_a_bad_start_date_is_a_message_not_a_500(client, login, start, said):
    login("viewer")
    status, html, runs = preview(
        client, cron="0 3 * * *", timezone="Pacific/Kiritimati", preview_from=start
    )
    assert status == 200 and said in html and runs == []


def test_a_start_near_the_calendars_end_shows_the_runs_it_has(client, login):
    login("viewer")
    status, html, runs = preview(client, cron="0 0 29 2 *", preview_from="9990-01-01")
    assert status == 200 and [r["text"][:14] for r in runs] == ["Sat 9992-02-29", "Thu 9996-02-29"]
    status, html, runs = preview(
        client, cron="* * * * *", timezone="Pacific/Kiritimati", preview_from="9998-12-31"
    )
    assert status == 200 and len(runs) == 5


def test_a_refused_form_shows_every_problem_at_once(client, login):
    login("operator")
    response = client.post(
        "/schedules/new",
        data={
            "name": "",
            "command": "queue retry",
            "parameters": "--bogus 1",
            "cron": "99 * * * *",
            "timezone": "Mars/Olympus",
            "queue": "default",
            "success_window_minutes": "0",
            "preview_from": "2027-13-01",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = re.findall(r'<small class="error">([^<]+)</small>', html)
    assert any("required" in e.lower() for e in errors), errors  # the name
    assert any("unknown option --bogus" in e for e in errors), errors
    assert any("not a valid cron expression" in e for e in errors), errors
    assert any("unknown time zone" in e for e in errors), errors
    assert any("at least 1" in e or "between" in e for e in errors), errors
    assert not any('"args"' in e or "&#34;args&#34;" in e for e in errors), errors
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 0


def test_an_argument_missing_on_the_form_is_said_in_the_forms_words(client, login):
    login("operator")
    response = client.post(
        "/schedules/new",
        data={
            "name": "Retry",
            "command": "queue retry",
            "parameters": "",
            "cron": "0 * * * *",
            "timezone": "UTC",
            "queue": "default",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = re.findall(r'<small class="error">([^<]+)</small>', html)
    assert errors == [
        "queue retry needs its TARGETS argument, as on its command line: flask queue retry TARGETS"
    ]
    fixed = client.post(
        "/schedules/new",
        data={
            "name": "Retry",
            "command": "queue retry",
            "parameters": "all",
            "cron": "0 * * * *",
            "timezone": "UTC",
            "queue": "default",
        },
    )
    assert fixed.status_code == 302
    assert db.session.scalars(select(Schedule)).one().parameters == {"args": ["all"]}
