"""The API's error messages read as a stranger reads them: one sentence that names the field,
plain values (never a Python repr), the field said once, a JSON error with words for every
unknown path and method, and a wrong token told where a good one comes from."""

from __future__ import annotations

import re

import pytest

from webapp.api.routing import OPERATIONS

STATUSES = "'pending', 'running', 'completed', 'failed' or 'cancelled'"


def error_of(response) -> dict:
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert set(body) == {"error"}
    return body["error"]


@pytest.mark.parametrize(
    "method, url, status, message, field",
    [
        ("GET", "/api/job-logs?status=nope", 400,
         f"status must be one of {STATUSES}, not 'nope'", "status"),
        ("GET", "/api/job-logs?queue=urgent", 400,
         "queue must be one of 'high', 'default' or 'low', not 'urgent'", "queue"),
        ("GET", "/api/job-logs?order=up", 400, "order must be 'newest' or 'oldest', not 'up'",
         "order"),
        ("GET", "/api/job-logs?limit=900", 400, "limit must be at most 500", "limit"),
        ("GET", "/api/job-logs?limit=x", 400, "limit must be a whole number, not 'x'", "limit"),
        ("GET", "/api/job-logs?cursor=0", 400, "cursor must be at least 1", "cursor"),
        ("GET", "/api/job-logs?since=soon", 400,
         "since must be an ISO 8601 time such as 2026-01-31T09:30:00Z, not 'soon'", "since"),
        ("DELETE", "/api/job-logs/cleanup?days=", 400, "days is required", "days"),
        ("GET", "/api/imports/1/failed-rows?format=pdf", 400,
         "format must be 'json' or 'csv', not 'pdf'", "format"),
        ("GET", "/api/audit?colour=red", 400,
         "colour is not a parameter of this request; it takes actor, action, target_type, "
         "target_id, since, until, limit, cursor", "colour"),
    ],
)  # fmt: skip
def test_query_errors_name_the_field_once_in_plain_words(
    client, bearer, method, url, status, message, field
):
    response = client.open(url, method=method, headers=bearer("admin"))
    assert response.status_code == status
    assert error_of(response) == {"code": "bad_request", "message": message, "field": field}


@pytest.mark.parametrize(
    "body, status, message, field",
    [
        ({"format": "csv"}, 422, "dataset is required", "dataset"),
        ({"dataset": 5, "format": "csv"}, 400, "dataset must be text, not the number 5",
         "dataset"),
        ({"dataset": "series", "format": "pdf"}, 422,
         "format must be one of 'csv', 'jsonl' or 'xlsx', not 'pdf'", "format"),
        ({"dataset": "series", "format": "csv", "filters": []}, 400,
         "filters must be a JSON object, not a list", "filters"),
        ({"dataset": "series", "format": "csv", "colour": 1}, 422,
         "colour is not a field of this request; it takes dataset, format, filters", "colour"),
    ],
)  # fmt: skip
def test_body_errors_name_the_field_once_in_plain_words(
    client, bearer, body, status, message, field
):
    response = client.post("/api/exports", json=body, headers=bearer("operator"))
    assert response.status_code == status
    assert error_of(response)["message"] == message and error_of(response)["field"] == field


def test_an_unknown_importer_names_its_field(client, bearer):
    response = client.post("/api/imports", data={"importer": "planets"}, headers=bearer("operator"))
    error = error_of(response)
    assert response.status_code == 422 and error["field"] == "importer"
    assert error["message"] == "importer must be one of series, integrations, not 'planets'"


@pytest.mark.parametrize(
    "url", ["/api/nowhere", "/api/job-logs/abc", "/api/job-logs/1/nothing", "/api/", "/api"]
)
def test_an_unknown_api_path_is_the_contracts_json_error_with_words(client, bearer, url):
    for headers in (bearer("viewer"), {}):
        response = client.get(url, headers=headers)
        assert response.status_code == 404
        error = error_of(response)
        assert error["code"] == "not_found"
        assert error["message"] == (
            f"there is no API path {url}; the paths are listed at /api/openapi.json "
            "and browsable at /api/docs"
        )


def test_a_wrong_method_on_an_api_path_says_which_ones_it_answers(client, bearer):
    response = client.put("/api/schedules", headers=bearer("operator"))
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert error_of(response) == {
        "code": "method_not_allowed",
        "message": "/api/schedules does not answer PUT; use GET or POST",
    }


def test_an_unknown_page_is_still_the_html_error_page(client, login):
    login("viewer")
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.mimetype == "text/html"


GET_A_TOKEN = (
    "an admin makes one on the user's page under /users, or with `flask users token EMAIL`"
)


@pytest.mark.parametrize(
    "headers, message",
    [
        ({}, f"sign in, or send an API token as Authorization: Bearer <token> ({GET_A_TOKEN})"),
        ({"Authorization": "Bearer not-a-token"},
         "this API token is not valid (mistyped, revoked, or its user disabled); send a working "
         f"one as Authorization: Bearer <token> ({GET_A_TOKEN})"),
        ({"Authorization": "Token abc"},
         f"send the token as Authorization: Bearer <token>, not as Token ({GET_A_TOKEN})"),
    ],
)  # fmt: skip
def test_a_missing_or_wrong_token_says_where_a_good_one_comes_from(client, headers, message):
    for url in ("/api/job-logs", "/api/schedules/1"):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        assert error_of(response) == {"code": "unauthorized", "message": message}


# Values of every wrong kind, for every parameter and field of every operation.
WRONG = ["nope", "-1", "1.5", "", "99999999999999999999", "[]"]
WRONG_JSON = ["nope", -1, 1.5, True, None, [], {}]


def sweep(client, headers):
    """Every error any operation gives for a wrong value: (request, status, error)."""
    for op in OPERATIONS:
        url = "/api" + re.sub(r"<int:\w+>", "1", op.rule)
        method = op.method.upper()
        for name in op.query.model_fields if op.query else ():
            for value in WRONG:
                r = client.open(url, method=method, headers=headers, query_string={name: value})
                yield f"{method} {url}?{name}={value}", r
        for name in op.body.model_fields if op.body else ():
            for value in WRONG_JSON:
                r = client.open(url, method=method, headers=headers, json={name: value})
                yield f"{method} {url} {{{name}: {value!r}}}", r


def test_every_validation_error_of_every_operation_reads_as_one_sentence(client, bearer):
    seen = 0
    for request, response in sweep(client, bearer("admin")):
        if response.status_code < 400:
            continue
        assert response.status_code < 500, request
        error = error_of(response)
        message, field = error["message"], error.get("field")
        assert not re.search(r"<\w+\.\w+: ", message), (request, message)  # no enum repr
        assert "Input should" not in message, (request, message)
        if response.status_code in (400, 422) and field:
            seen += 1
            assert message.startswith(field) or message.startswith(f"{field}:"), (request, message)
            assert not message.startswith(f"{field}: {field} "), (request, message)
    assert seen > 100  # the sweep reached the validation of most operations


def test_a_refused_command_option_is_reported_once_with_its_reason(client, bearer):
    schedule = {"name": "prune", "command": "jobs prune", "cron": "0 3 * * *"}
    response = client.post(
        "/api/schedules",
        json={**schedule, "parameters": {"--days": "x"}},
        headers=bearer("operator"),
    )
    assert response.status_code == 422
    assert error_of(response) == {
        "code": "invalid",
        "message": "parameters: --days: 'x' is not a valid integer range",  # not also "required"
        "field": "parameters",
    }


def test_a_throttled_address_is_told_so_on_every_path_never_a_500(app, client):
    bad = {"Authorization": "Bearer not-a-token"}
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.get("/api/job-logs", headers=bad).status_code == 401
    for url in ("/api/job-logs", "/", "/jobs", "/nowhere", "/api/nowhere"):
        response = client.get(url, headers=bad)
        assert response.status_code == 429, url
        assert int(response.headers["Retry-After"]) > 0
        assert "Too many failed attempts" in response.get_data(as_text=True)
