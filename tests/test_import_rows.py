"""Import rows checked by typed columns: the values and messages the WTForms row forms gave
(one sentence where they gave two), the same rows stored from a mixed file, chunk by chunk."""

import io

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models.series import Series
from webapp.models.transfers import FailedImportRow, Import
from webapp.services import imports
from webapp.services.importers import IMPORTERS

NOT_A_NUMBER = "Not a valid integer value: give a whole number between 1 and 2147483647."
RANGE = "Number must be between 1 and 2147483647."
REQUIRED = "This field is required."


def series_row(name="", tvmaze_id="", tvdb_id=""):
    return {"name": name, "tvmaze_id": tvmaze_id, "tvdb_id": tvdb_id}


@pytest.mark.parametrize(
    "row, values, errors",
    [
        (series_row("Show", "82"), {"name": "Show", "tvmaze_id": 82, "tvdb_id": None}, {}),
        (series_row("", " 7 ", "+5"), {"name": None, "tvmaze_id": 7, "tvdb_id": 5}, {}),
        # what int() reads, a column reads: underscores, other scripts' digits, leading zeros
        (series_row("x", "1_000", "٣"), {"name": "x", "tvmaze_id": 1000, "tvdb_id": 3}, {}),
        (series_row("x", "007"), {"name": "x", "tvmaze_id": 7, "tvdb_id": None}, {}),
        (series_row("   ", "   ", "5"), {"name": "   ", "tvmaze_id": None, "tvdb_id": 5}, {}),
        (series_row("x" * 255, "2147483647"), {"name": "x" * 255, "tvmaze_id": 2147483647}, {}),
        (series_row("Only a name"), None, {"tvmaze_id": ["give a tvmaze_id or a tvdb_id"]}),
        ({}, None, {"tvmaze_id": ["give a tvmaze_id or a tvdb_id"]}),
        (series_row("x", "0"), None, {"tvmaze_id": [RANGE]}),
        (series_row("x", "-3"), None, {"tvmaze_id": [RANGE]}),
        (series_row("x", "2147483648"), None, {"tvmaze_id": [RANGE]}),
        (series_row("x", "9" * 30), None, {"tvmaze_id": [RANGE]}),
        (series_row("x", "9" * 5000), None, {"tvmaze_id": [NOT_A_NUMBER]}),  # past int()'s limit
        (series_row("x", "abc"), None, {"tvmaze_id": [NOT_A_NUMBER]}),
        (
            series_row("x", "1.5", "1e3"),
            None,
            {"tvmaze_id": [NOT_A_NUMBER], "tvdb_id": [NOT_A_NUMBER]},
        ),
        (series_row("x", "1\x00"), None, {"tvmaze_id": [NOT_A_NUMBER]}),
        (series_row("x", "0x10", "0"), None, {"tvmaze_id": [NOT_A_NUMBER], "tvdb_id": [RANGE]}),
        (
            series_row("x" * 256, "abc"),
            None,
            {"name": ["Field cannot be longer than 255 characters."], "tvmaze_id": [NOT_A_NUMBER]},
        ),
        ({**series_row("x", "1"), "imdb_id": "tt1", "other": "?"}, {"tvmaze_id": 1}, {}),
    ],
)
def test_series_rows_are_checked_column_by_column(app, row, values, errors):
    got_values, got_errors = IMPORTERS["series"].validate(row, None)
    assert got_errors == errors and list(got_errors) == list(errors)  # in the columns' order
    if values is None:
        assert got_values is None
    else:
        assert got_values.items() >= values.items()


def integration_row(service="json_url", name="Feed", freq="60", tvmaze_id="", url=""):
    return {
        "service": service,
        "name": name,
        "update_frequency_minutes": freq,
        "tvmaze_id": tvmaze_id,
        "url": url,
    }


@pytest.mark.parametrize(
    "row, errors",
    [
        (
            integration_row(service="", name="", freq=""),
            {"service": [REQUIRED], "name": [REQUIRED], "update_frequency_minutes": [REQUIRED]},
        ),
        # a required number that is zero or no number at all is "required", as it was
        (integration_row(freq="0"), {"update_frequency_minutes": [REQUIRED]}),
        (integration_row(freq="abc"), {"update_frequency_minutes": [REQUIRED]}),
        (integration_row(freq="-1"), {"update_frequency_minutes": [RANGE]}),
        (integration_row(freq="9" * 30), {"update_frequency_minutes": [RANGE]}),
        (
            integration_row(name="y" * 101),
            {"name": ["Field cannot be longer than 100 characters."]},
        ),
        (integration_row(tvmaze_id="abc"), {"tvmaze_id": [NOT_A_NUMBER]}),
        (integration_row(url="not a url"), {"url": ["Invalid URL."]}),
        (integration_row(url="http://"), {"url": ["Invalid URL."]}),
        (integration_row(url="http://exa mple.com"), {"url": ["Invalid URL."]}),
        (
            integration_row(service="nope", url="http://localhost:8080/feed?x=1"),
            {"service": ["unknown service 'nope'; use one of json_url, tvmaze_upcoming"]},
        ),
    ],
)
def test_integration_rows_are_checked_column_by_column(app, row, errors):
    values, got = IMPORTERS["integrations"].validate(row, 1)
    assert got == errors and list(got) == list(errors) and values is None


def test_a_good_integration_row_gives_its_values_and_settings(app):
    values, errors = IMPORTERS["integrations"].validate(
        integration_row(url="http://localhost:8080/feed?x=1", tvmaze_id="3"), 1
    )
    assert errors == {}
    assert (values["name"], values["update_frequency_minutes"], values["tvmaze_id"]) == (
        "Feed",
        60,
        3,
    )
    assert values["url"] == "http://localhost:8080/feed?x=1" and "settings" in values


MIXED = (
    "name,tvmaze_id,tvdb_id,premiered,created_at\n"
    "First,1,,0001-01-01,\n"
    "Bad number,abc,,9999-12-31,9999-12-31T23:59:59\n"
    "Huge,99999999999999999999,,,\n"
    "Both ids,2,200,,\n"
    ",,300,,\n"  # no name: a series known by TheTVDB id only
    "No ids,,,,\n"
    "Float,1.5,,,\n"
    "First again,1,,,\n"  # the same TVmaze id later in the file: an update
    "Zero,0,0,,\n"
    "Last,3,,,\n"
)


@pytest.mark.parametrize("chunk", [2, 3, 500])
def test_a_mixed_file_stores_the_same_rows_and_errors_whatever_the_chunks(
    client, bearer, monkeypatch, chunk
):
    monkeypatch.setattr(imports, "CHUNK_SIZE", chunk)
    response = client.post(
        "/api/imports",
        data={"file": (io.BytesIO(MIXED.encode()), "mixed.csv"), "importer": "series"},
        headers=bearer("operator"),
        content_type="multipart/form-data",
    )
    body = response.get_json()
    assert response.status_code == 202 and body["status"] == "completed"
    assert (body["total_rows"], body["created_rows"], body["updated_rows"]) == (10, 4, 1)
    assert body["failed_rows"] == 5
    stored = db.session.execute(
        select(Series.name, Series.tvmaze_id, Series.tvdb_id).order_by(Series.id)
    ).all()
    assert [tuple(r) for r in stored] == [
        ("First again", 1, None),
        ("Both ids", 2, 200),
        (None, None, 300),
        ("Last", 3, None),
    ]
    failed = db.session.scalars(select(FailedImportRow).order_by(FailedImportRow.row_number))
    assert [(f.row_number, f.errors) for f in failed] == [
        (3, {"tvmaze_id": [NOT_A_NUMBER]}),
        (4, {"tvmaze_id": [RANGE]}),
        (7, {"tvmaze_id": ["give a tvmaze_id or a tvdb_id"]}),
        (8, {"tvmaze_id": [NOT_A_NUMBER]}),
        (10, {"tvmaze_id": [RANGE], "tvdb_id": [RANGE]}),
    ]
    csv_text = client.get(
        f"/api/imports/{body['id']}/failed-rows?format=csv", headers=bearer("operator")
    ).get_data(as_text=True)
    assert f"tvmaze_id: {NOT_A_NUMBER}" in csv_text  # one sentence, not two run together


def test_a_nul_refuses_the_whole_file_and_stores_nothing(client, bearer):
    response = client.post(
        "/api/imports",
        data={
            "file": (io.BytesIO(b"name,tvmaze_id,tvdb_id\nA,1,\nB\x00,2,\n"), "nul.csv"),
            "importer": "series",
        },
        headers=bearer("operator"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "binary" in response.get_json()["error"]["message"]
    assert db.session.scalar(select(Series.id)) is None
    assert db.session.scalar(select(Import.id)) is None
