"""Imports and exports with real files: bad input, per-row errors, dry run, formula
neutralising, access control and a round trip."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tasks.samples import sample_job
from tasks.upkeep import run_upkeep
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.series import Series
from webapp.models.transfers import Export, Import
from webapp.services.users import create_user, issue_token

GOOD = "name,tvmaze_id,tvdb_id\nGame of Thrones,82,121361\nBreaking Bad,169,\n"


def upload(
    client, content: bytes | str, name="series.csv", importer="series", dry_run=False, headers=None
):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/api/imports",
        data={
            "file": (io.BytesIO(data), name),
            "importer": importer,
            "dry_run": "true" if dry_run else "",
        },
        headers=headers,
        content_type="multipart/form-data",
    )


def series_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Series))


def test_an_import_with_refused_rows_keeps_their_row_numbers(client, bearer):
    content = (
        "name,tvmaze_id,tvdb_id\n"
        "Game of Thrones,82,121361\n"
        "\n"  # blank line: skipped, but counted in row numbers
        "No ids at all,,\n"  # row 4
        "Bad id,abc,\n"  # row 5
        "Breaking Bad,169,\n"  # row 6
        "Negative,-3,\n"  # row 7
    )
    response = upload(client, content, headers=bearer("operator"))
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "completed" and body["job_log_id"]
    assert (body["total_rows"], body["failed_rows"]) == (5, 3)
    assert (body["created_rows"], body["updated_rows"]) == (2, 0)
    failed = client.get(f"/api/imports/{body['id']}/failed-rows", headers=bearer("operator"))
    rows = failed.get_json()
    assert [r["row_number"] for r in rows] == [4, 5, 7]
    assert rows[0]["errors"] == {"tvmaze_id": ["give a tvmaze_id or a tvdb_id"]}
    assert rows[1]["data"] == {"name": "Bad id", "tvmaze_id": "abc", "tvdb_id": ""}
    assert "tvmaze_id" in rows[1]["errors"] and "tvmaze_id" in rows[2]["errors"]
    assert series_count() == 2

    as_csv = client.get(
        f"/api/imports/{body['id']}/failed-rows?format=csv", headers=bearer("operator")
    )
    table = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert table[0] == ["name", "tvmaze_id", "tvdb_id", "error"]
    assert table[2][:3] == ["Bad id", "abc", ""] and table[2][3].startswith("tvmaze_id:")


def test_reimporting_updates_instead_of_duplicating(client, bearer):
    headers = bearer("operator")
    upload(client, GOOD, headers=headers)
    again = upload(client, GOOD.replace("Breaking Bad", "Breaking Bad (2008)"), headers=headers)
    assert (again.get_json()["created_rows"], again.get_json()["updated_rows"]) == (0, 2)
    assert series_count() == 2
    assert (
        db.session.scalar(select(Series.name).where(Series.tvmaze_id == 169))
        == "Breaking Bad (2008)"
    )


def test_a_dry_run_writes_nothing(client, bearer):
    body = upload(client, GOOD + "Bad,x,\n", dry_run=True, headers=bearer("operator")).get_json()
    assert body["dry_run"] and (body["created_rows"], body["failed_rows"]) == (2, 1)
    assert series_count() == 0


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"", "empty.csv", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "picture.csv", "binary"),
        ("title,year\nx,1\n", "wrong.csv", "missing column(s): name, tvmaze_id, tvdb_id"),
        ("name,tvmaze_id,tvdb_id,colour\n", "extra.csv", "unknown column(s): colour"),
        (b"PK\x03\x04 not really a workbook", "broken.xlsx", "cannot be read"),
    ],
)
def test_bad_files_are_refused_with_a_message_and_leave_nothing(
    client, bearer, app, content, name, message
):
    response = upload(client, content, name=name, headers=bearer("operator"))
    assert response.status_code == 422
    assert message in response.get_json()["error"]["message"]
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0
    assert list((Path(app.config["DATA_DIR"]) / "imports").glob("*")) == []


def test_unknown_importer_missing_file_and_oversized_upload(client, bearer, app):
    headers = bearer("operator")
    unknown = upload(client, GOOD, importer="planets", headers=headers)
    assert unknown.status_code == 422 and unknown.get_json()["error"] == {
        "code": "invalid",
        "message": "importer must be one of series, integrations, not 'planets'",
        "field": "importer",
    }
    no_file = client.post("/api/imports", data={"importer": "series"}, headers=headers)
    assert no_file.status_code == 422
    app.config["MAX_CONTENT_LENGTH"] = 1024
    big = upload(client, GOOD + "x,1,\n" * 500, headers=headers)
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"
    assert upload(client, GOOD, headers=bearer("viewer")).status_code == 403


def test_delimiters_encodings_and_xlsx(client, bearer, tmp_path):
    headers = bearer("operator")
    semicolons = "\ufeffname;tvmaze_id;tvdb_id\nAmélie;1;\n".encode("utf-8")
    assert upload(client, semicolons, headers=headers).get_json()["created_rows"] == 1
    latin = "name\ttvmaze_id\ttvdb_id\nCafé Crème\t2\t\n".encode("latin-1")
    assert upload(client, latin, name="latin.tsv", headers=headers).get_json()["created_rows"] == 1
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "tvmaze_id", "tvdb_id"])
    sheet.append(["From a sheet", 3, None])
    sheet.append(["Bad row", "zz", None])
    path = tmp_path / "s.xlsx"
    workbook.save(path)
    body = upload(client, path.read_bytes(), name="s.xlsx", headers=headers).get_json()
    assert (body["created_rows"], body["failed_rows"]) == (1, 1)
    names = set(db.session.scalars(select(Series.name)))
    assert names == {"Amélie", "Café Crème", "From a sheet"}


def test_imports_are_private_to_their_owner(client, bearer):
    body = upload(client, GOOD, headers=bearer("operator")).get_json()
    assert client.get(f"/api/imports/{body['id']}", headers=bearer("viewer")).status_code == 404
    assert client.get(f"/api/imports/{body['id']}", headers=bearer("admin")).status_code == 200


def test_imports_run_command(runner, tmp_path):
    path = tmp_path / "series.csv"
    path.write_text(GOOD + "Bad,x,\n")
    result = runner.invoke(args=["imports", "run", str(path), "--importer", "series"])
    assert result.exit_code == 1  # some rows were refused
    assert "series.csv: 3 rows, 2 created, 0 updated, 1 refused." in result.output
    assert "tvmaze_id" in result.output.splitlines()[-1] and result.output.splitlines()[
        -1
    ].startswith("4")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    refused = runner.invoke(args=["imports", "run", str(empty), "--importer", "series"])
    assert refused.exit_code == 1 and "the file is empty" in refused.output


def test_integrations_importer_is_per_user(client, bearer, users):
    content = (
        "service,name,update_frequency_minutes,tvmaze_id,url\n"
        "tvmaze_upcoming,Simpsons,60,83,\n"
        "json_url,Feed,5,,not-a-url\n"
        "myspace,Old,5,,\n"
    )
    body = upload(client, content, importer="integrations", headers=bearer("operator")).get_json()
    assert (body["created_rows"], body["failed_rows"]) == (1, 2)
    from webapp.services.integrations import integrations_of

    assert [i.name for i in integrations_of(users["operator"].id)] == ["Simpsons"]


def make_export(client, headers, **body):
    response = client.post("/api/exports", json=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_exports_in_every_format_neutralise_formulas(client, bearer, tmp_path):
    headers = bearer("operator")
    upload(
        client,
        'name,tvmaze_id,tvdb_id\n=HYPERLINK("x"),1,\n+SUM(A1),2,\n@cmd,3,\nPlain,4,\n',
        headers=headers,
    )
    csv_export = make_export(client, headers, dataset="series", format="csv")
    assert csv_export["status"] == "completed" and csv_export["rows"] == 4
    text = client.get(f"/api/exports/{csv_export['id']}/download", headers=headers).get_data(
        as_text=True
    )
    names = [row[1] for row in csv.reader(io.StringIO(text))][1:]
    assert names == ['\'=HYPERLINK("x")', "'+SUM(A1)", "'@cmd", "Plain"]

    xlsx = make_export(client, headers, dataset="series", format="xlsx")
    path = tmp_path / "e.xlsx"
    path.write_bytes(client.get(f"/api/exports/{xlsx['id']}/download", headers=headers).data)
    sheet = load_workbook(path).active
    cells = [row[1] for row in sheet.iter_rows(values_only=True)][1:]
    assert cells[0] == '\'=HYPERLINK("x")' and sheet.cell(row=2, column=2).data_type == "s"

    jsonl = make_export(
        client, headers, dataset="series", format="jsonl", filters={"search": "Plain"}
    )
    lines = client.get(f"/api/exports/{jsonl['id']}/download", headers=headers).get_data(
        as_text=True
    )
    assert [json.loads(line)["name"] for line in lines.splitlines()] == ["Plain"]


def test_export_filters_and_bad_requests(client, bearer):
    headers = bearer("operator")
    sample_job.dispatch(steps=1, step_seconds=0)
    sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    failed = make_export(
        client, headers, dataset="job_logs", format="jsonl", filters={"status": "failed"}
    )
    assert failed["rows"] == 1
    for body in (
        {"dataset": "planets", "format": "csv"},
        {"dataset": "series", "format": "pdf"},
        {"dataset": "series", "format": "csv", "filters": {"colour": "red"}},
        {"dataset": "series", "format": "csv", "filters": {"since": "last week"}},
    ):
        response = client.post("/api/exports", json=body, headers=headers)
        assert response.status_code == 422, body
    assert client.post("/api/exports", data="x", headers=headers).status_code == 400


def test_only_the_owner_or_an_admin_sees_an_export(client, bearer, app):
    export = make_export(client, bearer("operator"), dataset="series", format="csv")
    other = bearer("viewer")
    for path in (f"/api/exports/{export['id']}/status", f"/api/exports/{export['id']}/download"):
        assert client.get(path, headers=other).status_code == 404
        assert client.get(path, headers=bearer("admin")).status_code == 200
    assert client.get("/api/exports/status", headers=other).get_json() == []
    mine = client.get("/api/exports/status", headers=bearer("operator")).get_json()
    assert [e["id"] for e in mine] == [export["id"]]


def test_download_is_409_until_ready_and_files_expire(client, bearer, users):
    from webapp.services import exports as service

    headers = bearer("operator")
    waiting = service.start_export("series", "csv", {}, users["operator"].id)
    not_ready = client.get(f"/api/exports/{waiting.id}/download", headers=headers)
    assert not_ready.status_code == 409 and "pending" in not_ready.get_json()["error"]["message"]
    done = make_export(client, headers, dataset="series", format="csv")
    row = db.session.get(Export, done["id"])
    from datetime import timedelta

    from webapp.models.base import utcnow

    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    path = Path(row.path)
    assert service.delete_expired() == 1
    assert not path.exists()
    gone = client.get(f"/api/exports/{done['id']}/download", headers=headers)
    assert gone.status_code == 409 and "expired" in gone.get_json()["error"]["message"]


def test_round_trip_export_series_and_import_them_elsewhere(
    client, bearer, runner, tmp_path, database, monkeypatch
):
    if database == "postgresql":
        pytest.skip("a second app would need a second PostgreSQL database; SQLite shows it")
    upload(client, GOOD, headers=bearer("operator"))
    out = tmp_path / "series.csv"
    result = runner.invoke(
        args=["exports", "run", "--dataset", "series", "--format", "csv", "--output", str(out)]
    )
    assert result.exit_code == 0 and result.stdout.strip() == str(out)  # progress goes to stderr

    from tests.conftest import make_app

    elsewhere = make_app(database, tmp_path / "elsewhere", monkeypatch)
    with elsewhere.app_context():
        imported = elsewhere.test_cli_runner().invoke(
            args=["imports", "run", str(out), "--importer", "series"]
        )
        assert imported.exit_code == 0, imported.output
        assert "2 rows, 2 created, 0 updated, 0 refused" in imported.output
        names = sorted(db.session.scalars(select(Series.name)))
        assert names == ["Breaking Bad", "Game of Thrones"]
        db.session.remove()
        db.engine.dispose()


def test_import_and_export_pages(client, login):
    login("operator")
    page = client.post(
        "/imports",
        data={"file": (io.BytesIO((GOOD + "Bad,x,\n").encode()), "s.csv"), "importer": "series"},
        content_type="multipart/form-data",
    )
    record = db.session.scalars(select(Import)).one()
    assert page.headers["Location"] == f"/imports/{record.id}"
    shown = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Refused rows" in shown and "<td>4</td>" in shown and "Download refused rows" in shown
    csv_text = client.get(f"/imports/{record.id}/failed-rows.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0] == "name,tvmaze_id,tvdb_id,error"
    bad = client.post(
        "/imports",
        data={"file": (io.BytesIO(b""), "e.csv"), "importer": "series"},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "empty" in bad.get_data(as_text=True)
    client.post("/exports", data={"dataset": "series", "format": "csv"})
    listing = client.get("/exports").get_data(as_text=True)
    assert "Download" in listing and "completed" in listing
    export = db.session.scalars(select(Export)).one()
    assert client.get(f"/exports/{export.id}/download").status_code == 200


def test_a_dry_run_leaves_existing_records_untouched(client, bearer):
    headers = bearer("operator")
    upload(client, GOOD, headers=headers)
    body = upload(
        client, GOOD.replace("Game of Thrones", "Renamed"), dry_run=True, headers=headers
    ).get_json()
    assert (body["created_rows"], body["updated_rows"]) == (0, 2)
    db.session.expire_all()
    assert db.session.scalar(select(Series.name).where(Series.tvmaze_id == 82)) == "Game of Thrones"


def test_a_row_the_database_refuses_is_refused_alone(client, bearer):
    headers = bearer("operator")
    upload(client, "name,tvmaze_id,tvdb_id\nA,1,500\nD,4,999\n", headers=headers)
    # row 2 would give A the tvdb id D already has: the unique index refuses that row only
    body = upload(client, "name,tvmaze_id,tvdb_id\nX,1,999\nE,5,\n", headers=headers).get_json()
    assert (body["created_rows"], body["updated_rows"], body["failed_rows"]) == (1, 0, 1)
    [refused] = client.get(f"/api/imports/{body['id']}/failed-rows", headers=headers).get_json()
    [message] = refused["errors"]["row"]
    assert refused["row_number"] == 2 and message.startswith("the database refused the record")
    assert "tvdb_id" in message and "SQL" not in message
    assert series_count() == 3


def test_the_pages_dry_run_checkbox_writes_nothing(client, login):
    login("operator")
    form = client.get("/imports").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="dry_run"[^>]*>', form).group(0)
    posted = re.search(r'value="([^"]+)"', box).group(1)  # what a browser sends when ticked
    page = client.post(
        "/imports",
        data={
            "file": (io.BytesIO(GOOD.encode()), "s.csv"),
            "importer": "series",
            "dry_run": posted,
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 302
    record = db.session.scalars(select(Import)).one()
    assert record.dry_run and (record.created_rows, record.status) == (2, "completed")
    assert series_count() == 0
    shown = client.get(page.headers["Location"]).get_data(as_text=True)
    assert "A dry run" in shown and "Nothing was written" in shown and "would be created" in shown


@pytest.mark.parametrize("word", ["y", "yes", "TRUE", " on ", "1"])
def test_the_api_takes_every_yes_word_as_a_dry_run(client, bearer, word):
    response = client.post(
        "/api/imports",
        data={"file": (io.BytesIO(GOOD.encode()), "s.csv"), "importer": "series", "dry_run": word},
        headers=bearer("operator"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 202 and response.get_json()["dry_run"] is True
    assert series_count() == 0


@pytest.mark.parametrize("word", ["", "n", "no", "false", "off", "0"])
def test_the_api_takes_no_words_as_a_real_import(client, bearer, word):
    response = client.post(
        "/api/imports",
        data={"file": (io.BytesIO(GOOD.encode()), "s.csv"), "importer": "series", "dry_run": word},
        headers=bearer("operator"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 202 and response.get_json()["dry_run"] is False
    assert series_count() == 2


def test_the_api_refuses_a_dry_run_that_is_neither_yes_nor_no(client, bearer, app):
    response = client.post(
        "/api/imports",
        data={
            "file": (io.BytesIO(GOOD.encode()), "s.csv"),
            "importer": "series",
            "dry_run": "maybe",
        },
        headers=bearer("operator"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert "dry_run must be true or false" in error["message"] and "'maybe'" in error["message"]
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0
    assert series_count() == 0


def test_the_page_refuses_a_dry_run_that_is_neither_yes_nor_no(client, login):
    login("operator")
    page = client.post(
        "/imports",
        data={
            "file": (io.BytesIO(GOOD.encode()), "s.csv"),
            "importer": "series",
            "dry_run": "maybe",
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 422 and "must be true or false" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def operator_headers() -> dict[str, str]:
    token = issue_token(create_user("op@example.com", "pw-pw-pw-pw", "operator"))
    return {"Authorization": f"Bearer {token}"}


def cancel_its_job(client, headers, source_type: str, source_id: int) -> None:
    [job_id] = db.session.scalars(
        select(JobLog.id).where(JobLog.source_type == source_type, JobLog.source_id == source_id)
    )
    assert client.post(f"/api/job-logs/{job_id}/cancel", headers=headers).status_code == 200


def test_an_import_whose_job_was_cancelled_before_it_ran_is_cancelled_too(queued):
    client, headers = queued.test_client(), operator_headers()
    body = upload(client, GOOD, headers=headers).get_json()
    assert body["status"] == "pending"  # its job waits in the queue
    cancel_its_job(client, headers, "import", body["id"])
    run_upkeep()
    after = client.get(f"/api/imports/{body['id']}", headers=headers).get_json()
    assert after["status"] == "cancelled" and after["finished_at"]
    page = client.get(f"/imports/{body['id']}", headers=headers).get_data(as_text=True)
    assert "badge-cancelled" in page and "hx-trigger" not in page  # final: no more polling


def test_an_export_whose_job_was_cancelled_before_it_ran_is_cancelled_too(queued):
    client, headers = queued.test_client(), operator_headers()
    response = client.post(
        "/api/exports", json={"dataset": "series", "format": "csv"}, headers=headers
    )
    assert response.status_code == 202 and response.get_json()["status"] == "pending"
    export_id = response.get_json()["id"]
    cancel_its_job(client, headers, "export", export_id)
    run_upkeep()
    after = client.get(f"/api/exports/{export_id}/status", headers=headers).get_json()
    assert after["status"] == "cancelled" and after["finished_at"]
