"""Issue 14 at the doors a client uses: each input that once gave a 500 is refused with a
message (or clamped), on the pages, the CLI and, where a service rule covers it, the API."""

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models.schedules import Schedule
from webapp.models.series import Series
from webapp.models.transfers import Import

PRUNE = {"name": "prune", "command": "jobs prune", "parameters": {"--days": "30"}}
HUGE = str(2**64)
PAST_INT4 = str(2**31)  # no id column holds it; PostgreSQL would refuse to compare one
GOOD = "name,tvmaze_id,tvdb_id\nGame of Thrones,82,121361\n"


def schedule_form(**changes) -> dict:
    return {
        "name": "Nightly",
        "command": "jobs prune",
        "parameters": "--days 14",
        "cron": "0 3 * * *",
        "timezone": "UTC",
        "queue": "default",
        "active": "y",
        **changes,
    }


def schedules() -> int:
    return db.session.scalar(select(func.count()).select_from(Schedule))


def stored_files(app) -> list[Path]:
    return [p for p in Path(app.config["DATA_DIR"]).rglob("*") if p.is_file()]


# -- schedules -------------------------------------------------------------------------------


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_cron_that_never_comes_round_is_refused_on_save_and_preview(client, login, cron):
    login("operator")
    saved = client.post("/schedules/new", data=schedule_form(cron=cron))
    assert saved.status_code == 422
    assert "never comes round" in saved.get_data(as_text=True) and schedules() == 0
    preview = client.get("/schedules/preview", query_string={"cron": cron})
    assert preview.status_code == 200 and "never comes round" in preview.get_data(as_text=True)


def test_a_never_due_schedule_saved_before_cannot_be_switched_on(client, login, bearer):
    db.session.add(
        Schedule(
            name="Leap",
            command="jobs prune",
            parameters={"--days": "30"},
            cron="0 0 30 2 *",
            active=False,
        )
    )
    db.session.commit()
    schedule_id = db.session.scalar(select(Schedule.id))
    login("operator")
    page = client.get(f"/schedules/{schedule_id}")
    assert page.status_code == 200
    toggled = client.post(f"/schedules/{schedule_id}/toggle", follow_redirects=True)
    assert toggled.status_code == 200 and "cannot be switched on" in toggled.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Schedule, schedule_id).active is False
    api = client.patch(
        f"/api/schedules/{schedule_id}", json={"active": True}, headers=bearer("operator")
    )
    assert api.status_code == 422 and "never comes round" in api.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "zone", ["America", "Etc", "x" * 300, "../../etc/passwd", "Europe/", "localtime", "Factory"]
)
def test_time_zones_must_be_real_iana_zones(client, login, zone):
    login("operator")
    saved = client.post("/schedules/new", data=schedule_form(timezone=zone))
    assert saved.status_code == 422 and "unknown time zone" in saved.get_data(as_text=True)
    preview = client.get("/schedules/preview", query_string={"cron": "* * * * *", "timezone": zone})
    assert preview.status_code == 200 and "unknown time zone" in preview.get_data(as_text=True)
    assert schedules() == 0


# A value of the wrong type is a malformed request (400, the schema says so); a value of the
# right type that breaks a rule is 422. Either way the message names the field and why.
@pytest.mark.parametrize(
    "fields, status, message",
    [
        ({"preset": "monthly_on", "preset_day": 5}, 400, "preset_day must be text"),
        ({"preset": "monthly_on", "preset_day": "²"}, 422, "day of the month"),
        ({"preset": "daily_at", "preset_at": "²:00"}, 422, "time of day"),
        ({"preset": "twice_daily", "preset_hours": "1,²"}, 422, "two hours"),
        ({"preset": 7}, 400, "preset must be text, not the number 7"),
        ({"cron": "* " * 50_000}, 422, "at most 100 characters"),
        ({"cron": "0 3 * * *", "success_window_minutes": 10**30}, 400, "must be at most"),
        ({"cron": "0 3 * * *", "success_window_minutes": True}, 400, "a whole number, not true"),
        ({"cron": "0 3 * * *", "timezone": 5}, 400, "timezone must be text, not the number 5"),
        ({"cron": "0 3 * * *", "name": "a\x00b"}, 422, "name must not contain a NUL"),
        ({"cron": "0 3 * * *", "queue": ["default"]}, 400, "queue must be text, not a list"),
        ({"cron": "0 3 * * *", "command": ["jobs", "prune"]}, 400, "command must be text"),
    ],
)  # fmt: skip
def test_schedule_fields_are_refused_with_a_message_through_the_api(
    client, bearer, fields, status, message
):
    response = client.post("/api/schedules", json={**PRUNE, **fields}, headers=bearer("operator"))
    assert response.status_code == status, response.get_data(as_text=True)
    assert message in response.get_json()["error"]["message"] and schedules() == 0


def test_preset_fields_typed_as_superscripts_are_form_errors(client, login):
    login("operator")
    saved = client.post(
        "/schedules/new",
        data=schedule_form(cron="", preset="monthly_on", preset_day="²", preset_at="03:00"),
    )
    assert saved.status_code == 422 and "day of the month" in saved.get_data(as_text=True)
    window = client.post("/schedules/new", data=schedule_form(success_window_minutes=HUGE))
    assert window.status_code == 422 and schedules() == 0


# -- requests --------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(client, login, bearer):
    body = b"x" * (100 * 1024 * 1024)
    multipart = "multipart/form-data; boundary=----x"
    api = client.post("/api/imports", data=body, content_type=multipart, headers=bearer("operator"))
    assert api.status_code == 413 and api.get_json()["error"]["code"] == "too_large"
    login("operator")
    page = client.post("/imports", data=body, content_type=multipart)
    assert page.status_code == 413 and "<html" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def test_json_nested_deeper_than_the_bound_is_a_400(client, bearer):
    deep = "[" * 50_000 + "]" * 50_000
    response = client.post(
        "/api/schedules", data=deep, content_type="application/json", headers=bearer("operator")
    )
    assert response.status_code == 400 and "nests deeper" in response.get_json()["error"]["message"]
    quoted = '{"name": "' + "[" * 50_000 + '"}'
    assert (
        client.post(
            "/api/schedules",
            data=quoted,
            content_type="application/json",
            headers=bearer("operator"),
        ).status_code
        == 422  # brackets inside a string nest nothing: a well-formed body with bad fields
    )


def test_a_405_says_which_methods_are_allowed(client, login, bearer):
    api = client.put("/api/schedules", headers=bearer("operator"))
    assert api.status_code == 405 and set(api.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert api.get_json()["error"]["code"] == "method_not_allowed"
    login("viewer")
    page = client.delete("/jobs")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


# -- query strings and forms -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/jobs?q=a%00b", "/jobs?task=%00", "/failed?error=x%00", "/schedules?q=%00", "/series?q=%00"],
)
def test_a_nul_in_a_text_filter_is_a_400_with_a_message(client, login, url):
    login("viewer")
    response = client.get(url)
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)


def test_a_nul_in_a_form_field_is_a_400(client, login):
    login("operator")
    response = client.post("/schedules/new", data=schedule_form(description="a\x00b"))
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    assert schedules() == 0


@pytest.mark.parametrize(
    "url",
    [
        f"/jobs?cursor={HUGE}",
        f"/jobs?cursor={PAST_INT4}",
        f"/jobs?source_id={PAST_INT4}",
        f"/jobs?batch_id={HUGE}",
        f"/failed?cursor={HUGE}",
        f"/failed?cursor={PAST_INT4}",
        f"/schedules?page={HUGE}",
        "/schedules?page=²",
        f"/imports?page={HUGE}",
        f"/series?page={HUGE}",
        f"/integrations?page={HUGE}",
    ],
)
def test_numbers_beyond_any_id_in_query_strings_are_400(client, login, url):
    login("viewer")
    assert client.get(url).status_code == 400


@pytest.mark.parametrize("record_id", [PAST_INT4, str(2**63 - 1), HUGE])
def test_path_ids_beyond_any_id_are_404(client, login, record_id):
    login("viewer")
    for page in ("/jobs", "/batches", "/schedules", "/series", "/imports"):
        assert client.get(f"{page}/{record_id}").status_code == 404


def test_an_import_page_after_cursor_beyond_any_id_is_400(client, login, bearer):
    upload = client.post(
        "/api/imports",
        data={"file": (io.BytesIO(GOOD.encode()), "s.csv"), "importer": "series"},
        headers=bearer("operator"),
    )
    login("operator")
    import_id = upload.get_json()["id"]
    assert client.get(f"/imports/{import_id}?after={HUGE}").status_code == 400
    assert client.get(f"/imports/{import_id}?after=3").status_code == 200


def test_selected_ids_beyond_any_id_are_400(client, login):
    login("operator")
    response = client.post("/jobs/bulk", data={"action": "retry", "ids": [HUGE]})
    assert response.status_code == 400


def test_a_bad_since_shows_the_filter_form_with_its_error(client, login):
    login("viewer")
    page = client.get("/jobs?since=yesterday&q=report")
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert '<form class="filters"' in text and 'value="report"' in text
    assert "Created after: Not a valid datetime value." in text
    fragment = client.get("/jobs?since=yesterday", headers={"HX-Request": "true"})
    assert fragment.status_code == 400
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="job_table"')
    assert "Not a valid datetime value" in fragment.get_data(as_text=True)
    failed = client.get("/failed?until=13/13/13")
    assert failed.status_code == 400 and "Failed before" in failed.get_data(as_text=True)


@pytest.mark.parametrize("since", ["0001-01-01T00:00", "9999-12-31T23:59:59"])
def test_times_at_the_ends_of_the_calendar_are_no_500(client, login, bearer, since):
    login("viewer")
    assert client.get(f"/jobs?since={since}&until={since}").status_code == 200
    assert client.get(f"/failed?since={since}").status_code == 200


def test_history_restore_gets_the_whole_page(client, login):
    login("viewer")
    htmx = {"HX-Request": "true"}
    fragment = client.get("/jobs?status=failed", headers=htmx).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="job_table"')
    restored = client.get(
        "/jobs?status=failed", headers={**htmx, "HX-History-Restore-Request": "true"}
    ).get_data(as_text=True)
    assert "<html" in restored and '<form class="filters"' in restored


# -- days ------------------------------------------------------------------------------------


def test_prune_days_beyond_the_calendar_are_refused(runner, client, bearer):
    result = runner.invoke(args=["jobs", "prune", "--days", str(10**30)])
    assert result.exit_code == 2 and "--days" in result.output
    assert runner.invoke(args=["jobs", "prune", "--days", "10000000"]).exit_code == 0
    api = client.delete(f"/api/job-logs/cleanup?days={10**30}", headers=bearer("admin"))
    assert api.status_code == 400 and "days" in api.get_json()["error"]["message"]


# -- uploads ---------------------------------------------------------------------------------

UTF8_START = "name,tvmaze_id,tvdb_id\n" + "".join(f"Amélie {i},{i + 1},\n" for i in range(6000))


@pytest.mark.parametrize(
    "content, message",
    [
        ((UTF8_START.encode() + b"Caf\xe9,99999,\n"), "is not UTF-8"),
        (GOOD.encode() + b"Broken \xe2\x82", "UTF-8"),
        ((GOOD + 'Long,"' + "x" * (129 * 1024) + '",\n').encode(), "longer than 128 KB"),
        (GOOD.encode() + b"a\x00b,1,\n", "binary"),
        ((GOOD + 'Open "quote,1,\n"never closed').encode(), None),
    ],
)
def test_a_file_is_checked_whole_at_upload_and_nothing_is_left(
    client, login, bearer, app, content, message
):
    assert len(UTF8_START) > 64 * 1024  # the bad byte is past the part that used to be sniffed
    response = client.post(
        "/api/imports",
        data={"file": (io.BytesIO(content), "s.csv"), "importer": "series"},
        headers=bearer("operator"),
    )
    if message is None:  # csv reads an unclosed quote to the end of the file: one odd row
        assert response.status_code == 202
        return
    assert response.status_code == 422 and message in response.get_json()["error"]["message"]
    login("operator")
    page = client.post(
        "/imports",
        data={"file": (io.BytesIO(content), "s.csv"), "importer": "series"},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422 and message in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0
    assert stored_files(app) == []


def test_the_cli_refuses_a_bad_file_and_leaves_nothing(runner, app, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes((GOOD + 'Long,"' + "x" * (200 * 1024) + '",\n').encode())
    result = runner.invoke(args=["imports", "run", str(bad), "--importer", "series"])
    assert result.exit_code == 1 and "line 3 has a field longer than 128 KB" in result.output
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0
    assert stored_files(app) == []


def test_a_file_name_with_nul_or_control_characters_is_stored_safely(client, bearer):
    response = client.post(
        "/api/imports",
        data={"file": (io.BytesIO(GOOD.encode()), "se\x00ri\tes.c\x00sv"), "importer": "series"},
        headers=bearer("operator"),
    )
    assert response.status_code == 202 and "\x00" not in response.get_json()["filename"]


def test_a_failure_inside_the_import_job_is_told_in_words(queued, bearer, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from webapp.services import imports

    client = queued.test_client()
    # stored, its job not yet run (whichever app's queue the fixtures left in place)
    import_id = imports.store_upload(io.BytesIO(GOOD.encode()), "s.csv", "series", None, False).id

    def lost_database(*args, **kwargs):
        raise OperationalError("INSERT INTO failed_import_rows (import_id) VALUES (?)", {}, None)

    monkeypatch.setattr(imports, "_save_chunk", lost_database)
    with pytest.raises(OperationalError):  # the job fails with it (and may be retried)
        imports.run_import(import_id)
    body = client.get(f"/api/imports/{import_id}", headers=bearer("admin")).get_json()
    assert body["status"] == "failed"
    assert body["error"].startswith("The import stopped after 0 rows (the database could not")
    assert "Retry it to continue from there" in body["error"] and "INSERT" not in body["error"]


def test_a_file_spoiled_after_upload_fails_its_import_with_the_reason(queued, bearer, app):
    from webapp.services import imports

    record = imports.store_upload(io.BytesIO(GOOD.encode()), "s.csv", "series", None, False)
    Path(record.path).write_bytes(GOOD.encode() + b"Caf\xc3\xa9,1,\nCaf\xe9,2,\n")
    with pytest.raises(imports.FileRefused):
        imports.run_import(record.id)
    db.session.expire_all()
    assert db.session.get(Import, record.id).status == "failed"
    assert re.search(r"line 4 is not UTF-8", db.session.get(Import, record.id).error)


# -- round trip ------------------------------------------------------------------------------

NAMES = ['Say "Hi"', "Commas, of course", "Ünïcødé 東京 🎬", 'Both, "quoted", and ""doubled""']


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_series_export_imports_back_as_it_was(runner, tmp_path, fmt):
    for number, name in enumerate(NAMES, start=1):
        db.session.add(Series(name=name, tvmaze_id=number, tvdb_id=1000 + number))
    db.session.commit()
    before = sorted(db.session.execute(select(Series.name, Series.tvmaze_id, Series.tvdb_id)))
    out = tmp_path / f"series.{fmt}"
    exported = runner.invoke(
        args=["exports", "run", "--dataset", "series", "--format", fmt, "--output", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    db.session.execute(Series.__table__.delete())
    db.session.commit()
    imported = runner.invoke(args=["imports", "run", str(out), "--importer", "series"])
    assert imported.exit_code == 0, imported.output
    assert f"{len(NAMES)} rows, {len(NAMES)} created, 0 updated, 0 refused" in imported.output
    after = sorted(db.session.execute(select(Series.name, Series.tvmaze_id, Series.tvdb_id)))
    assert after == before


def test_a_series_search_for_a_number_beyond_any_id_is_only_text(client, login):
    login("viewer")
    for query in (HUGE, "²"):
        response = client.get("/series", query_string={"q": query})
        assert response.status_code == 200 and "No series" in response.get_data(as_text=True)


def test_a_multipart_part_without_a_name_is_no_500(client, bearer):
    body = (
        b'--B\r\nContent-Disposition: form-data; name=""\r\n\r\nx\r\n'
        b"--B\r\nContent-Disposition: form-data\r\n\r\ny\r\n--B--\r\n"
    )
    response = client.post(
        "/api/imports",
        data=body,
        headers={**bearer("operator"), "Content-Type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)


def test_an_audit_cursor_past_any_id_is_no_500(client, login):
    login("admin")
    assert client.get("/audit", query_string={"cursor": str(2**63)}).status_code == 400
