"""Job values skip the redacting copy only when it would change nothing: the same result
either way, for plain ids and for secrets at any depth."""

import pytest

from jobkit.redaction import REDACTED, redact, redact_job_values

VALUES = [
    {"args": [1, 2.5, True, None], "kwargs": {}},
    {"series_id": 42},
    {"args": [], "kwargs": {"password": None, "token": ""}},  # empty secrets stay as they are
    {"args": [], "kwargs": {"password": 7}},
    {"nested": [{"api_key": 1}]},
    {"url": "https://user:hunter2@example.com/x"},
    {"pair": ("a", 1)},  # a tuple comes back a list
    [1, [2, [3]]],
]


@pytest.mark.parametrize("value", VALUES)
def test_job_values_are_redacted_as_redact_does(value):
    for column in ("arguments", "payload", "attempt_errors"):
        assert redact_job_values({column: value})[column] == redact(value)


def test_secrets_under_numbers_are_still_redacted():
    cleaned = redact_job_values({"payload": {"outer": {"session": 12345}}})
    assert cleaned["payload"] == {"outer": {"session": REDACTED}}
