"""Property tests for the HTML side: every page's query string and every form's fields, filled
with arbitrary text, numbers and dates, give 200, 302, 400, 403, 404 or 422 — never a 500.

The pages and forms come from the app's URL map, and the names each one reads are noted as it
reads them, so that a new page, filter or field is fuzzed without being listed here. Bounded
examples and a fixed seed keep it to about a minute on SQLite and make a failure repeatable.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict

from tasks.samples import sample_job
from webapp.extensions import db
from webapp.models.series import Episode, Series
from webapp.services import exports
from webapp.services import schedules as schedule_service

ALLOWED = {200, 302, 400, 403, 404, 422}
PROPERTY_SETTINGS = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Doors that leave the test (a subprocess, an outside service) or end the session.
SKIPPED_ENDPOINTS = {
    "auth.login",
    "auth.logout",
    "schedules.run_now",
    "series.add",
    "series.refresh",
    "series.import_missing",
    "integrations.create",
    "integrations.fetch",
    "integrations.toggle",
    "dashboard.sample_job",
    "static",
    # Probes for machines, not pages: /healthz is 503 while no consumer runs, by design.
    "observability.healthz",
    "observability.metrics",
}


class RecordingArgs(ImmutableMultiDict):
    """Query-string and form values that note which names the app reads."""

    read: ClassVar[set[str]] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
        self.read.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002 - werkzeug's signature
        self.read.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


# A value each name takes when it is right, so that one bad field among good ones is tried too
# (a form refusing every field at once would never reach the service's own rules).
GOOD = {
    "name": "Fuzzed",
    "command": "jobs prune",
    "parameters": "--days 3",
    "cron": "0 3 * * *",
    "timezone": "Europe/Berlin",
    "queue": "default",
    "active": "y",
    "success_window_minutes": "60",
    "preset_at": "03:00",
    "preset_day": "1",
    "preset_hours": "1,13",
    "importer": "series",
    "dataset": "series",
    "format": "csv",
    "action": "retry",
    "ids": "1",
    "id_type": "tvmaze",
    "show_id": "1",
    "since": "2026-01-01",
    "until": "2026-12-31",
}

huge_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]),
).map(str)
times = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.one_of(
        st.none(),
        st.just(UTC),
        st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
    ),
)
dates = st.one_of(
    times.map(lambda t: t.isoformat()),
    times.map(lambda t: t.strftime("%Y-%m-%dT%H:%M")),
    times.map(lambda t: t.date().isoformat()),
)
specials = st.sampled_from(
    [
        "",
        "²",
        "٣",
        "\x00",
        "a\x00b",
        "0 0 31 2 *",
        "0 0 30 2 *",
        "* " * 300,
        "America",
        "Etc",
        "x" * 300,
        "-created_at",
        "true",
        "monthly_on",
        "twice_daily",
        "1,²",
        "²:00",
        "25:61",
        "'; DROP TABLE job_logs; --",
        "%",
        "_",
        "\\",
        "🎬" * 50,
    ]
)
values = st.one_of(st.text(max_size=60), huge_numbers, dates, specials)


@pytest.fixture
def site(app, client, login):
    """One record of each kind, so that every page with an id has one to show; an admin; and
    requests that note the names each page reads from its query string or form."""

    class RecordingRequest(app.request_class):
        parameter_storage_class = RecordingArgs

    app.request_class = RecordingRequest
    login("admin")
    series = Series(name="Fuzz", tvmaze_id=1, tvdb_id=2)
    db.session.add(series)
    db.session.flush()
    db.session.add(Episode(series_id=series.id, tvmaze_id=11, season=1, number=1, name="Pilot"))
    db.session.commit()
    schedule_service.create_schedule(
        {
            "name": "Fuzz",
            "command": "jobs prune",
            "parameters": {"--days": "30"},
            "cron": "0 3 * * *",
        }
    )
    sample_job.dispatch(steps=1, step_seconds=0)
    sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    client.post(
        "/imports",
        data={
            "file": (io.BytesIO(b"name,tvmaze_id,tvdb_id\nA,5,\n"), "a.csv"),
            "importer": "series",
        },
        content_type="multipart/form-data",
    )
    export = exports.start_export("series", "csv", {}, None)
    exports.write_export(export.id)
    return app


def doors(app, method: str) -> list:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if method in rule.methods
            and rule.endpoint not in SKIPPED_ENDPOINTS
            and not rule.rule.startswith("/api")
        ),
        # Deleting doors last, so that the records the others act on are still there.
        key=lambda rule: (rule.rule.endswith(("/delete", "/flush")), rule.rule),
    )


def url_of(rule, id_value: int = 1) -> str:
    return re.sub(r"<int:\w+>", str(id_value), rule.rule)


def names_read(send) -> list[str]:
    """The names a request reads from its query string or form when it is sent bare."""
    RecordingArgs.read.clear()
    send({})
    return sorted(RecordingArgs.read - {"file"})


def fuzz(names: list[str], send, what: str) -> None:
    """Arbitrary values for each of ``names`` in turn, alone or among good values for the
    others, and for a door that reads none, arbitrary ids; every answer is an allowed one."""
    base = {name: GOOD[name] for name in names if name in GOOD}

    def for_name(name: str | None):
        @seed(14)
        @PROPERTY_SETTINGS
        @given(
            id_value=st.sampled_from([1, 2, 2**31, 2**63 - 1]),
            value=st.lists(values, min_size=1, max_size=2),
            htmx=st.booleans(),
            among_good=st.booleans(),
        )
        def answers(id_value, value, htmx, among_good):
            data = {**(base if among_good else {}), **({name: value} if name else {})}
            response = send(data, id_value, htmx)
            db.session.rollback()
            assert response.status_code in ALLOWED, f"{what} {data!r} → {response.status_code}"

        return answers

    for name in names or [None]:
        for_name(name)()


def test_every_page_takes_any_query_string(site, client):
    pages = doors(site, "GET")
    assert {"/jobs", "/failed", "/schedules", "/schedules/preview", "/imports"} <= {
        r.rule for r in pages
    }
    for rule in pages:

        def send(query, id_value=1, htmx=False, rule=rule):
            headers = {"HX-Request": "true"} if htmx else {}
            return client.get(url_of(rule, id_value), query_string=query, headers=headers)

        fuzz(names_read(send), send, f"GET {rule.rule}")


def test_every_form_takes_any_fields(site, client):
    forms = doors(site, "POST")
    assert {"/schedules/new", "/imports", "/exports", "/jobs/bulk"} <= {r.rule for r in forms}
    for rule in forms:

        def send(data, id_value=1, htmx=False, rule=rule):
            body = {**data, "file": (io.BytesIO(b"name,tvmaze_id\n\xff\x00,1\n"), "f.csv")}
            headers = {"HX-Request": "true"} if htmx else {}
            return client.post(
                url_of(rule, id_value),
                data=body,
                headers=headers,
                content_type="multipart/form-data",
            )

        fuzz(names_read(send), send, f"POST {rule.rule}")
