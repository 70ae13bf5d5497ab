"""Schemathesis over /api/openapi.json: every operation, all checks, as an admin and a viewer.

Runs against the Flask app itself (WSGI), on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL (with the Huey queue on Redis when TEST_REDIS_URL is set too), each seeded so that
id 1 of every record exists. A fixed seed and FUZZ_EXAMPLES examples per operation (5 in
`make test`, 100 in `make fuzz`) keep it repeatable. A failure prints the request as curl.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings

from tasks.samples import sample_job
from tests.conftest import PASSWORD, REDIS_URL, make_app, needs_pg
from webapp.api.openapi import description
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobBatch, JobLog
from webapp.services import exports, schedules
from webapp.services.imports import store_upload
from webapp.services.users import create_user, issue_token

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261201"))

# Checks and operations known to fail, with the reason; empty: everything must pass.
KNOWN_FAILING_CHECKS: dict[str, str] = {}
KNOWN_FAILING: dict[str, str] = {}

# All of schemathesis's checks and phases, configured so:
# - positive_data_acceptance also accepts 422: the schema states every rule that makes a request
#   malformed (400), but not the domain's rules (a cron expression that never fires, a command
#   that cannot be scheduled), which are answered 422 for data that matches the schema.
# - the coverage phase (hundreds of boundary cases per operation) runs in `make fuzz` only.
# - security parameters are not generated: each request carries the role's token.
CONFIG = {
    "seed": FUZZ_SEED,
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "phases": {"coverage": {"enabled": FUZZ_EXAMPLES > 5}},
    "generation": {
        "mode": "all",
        "max-examples": FUZZ_EXAMPLES,
        "database": "none",
        "with-security-parameters": False,
    },
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
        },
        **{name: {"enabled": False} for name in KNOWN_FAILING_CHECKS},
    },
}
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", marks=needs_pg, id="postgresql"),
]


def seed_records(user_id: int) -> None:
    """One of each record the API addresses by id, so that id 1 exists for each; job 1 is
    completed, 2 failed (in batch 1), 3 pending, whether or not the queue runs jobs at once."""
    ids = [sample_job.dispatch(steps=1, step_seconds=0, delay=3600) for _ in range(3)]
    now = utcnow()
    for job_id, status in zip(ids, ("completed", "failed"), strict=False):
        job = db.session.get(JobLog, job_id)
        job.status, job.started_at, job.finished_at = status, now - timedelta(seconds=2), now
    batch = JobBatch(name="fuzz batch", total=1, user_id=user_id)
    db.session.add(batch)
    db.session.flush()
    db.session.get(JobLog, ids[1]).batch_id = batch.id
    db.session.commit()
    schedules.create_schedule(
        {
            "name": "Prune",
            "command": "jobs prune",
            "parameters": {"--days": "30"},
            "cron": "0 3 * * *",
        },
        user_id,
    )
    store_upload(
        io.BytesIO(b"name,tvmaze_id,tvdb_id\nBad,abc,\n"), "s.csv", "series", user_id, False
    )
    exports.start_export("series", "csv", None, user_id)


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_app(request, tmp_path_factory):
    """One seeded app per backend for every operation (a fresh one per operation costs more
    than the requests), with a bearer token per role."""
    # Schemathesis's auth checks send wrong tokens on purpose; sign-in throttling (tested in
    # test_security) would soon answer them, and then everything from this address, with 429.
    overrides = {"LOGIN_MAX_FAILURES": 10**9}
    if request.param == "postgresql" and REDIS_URL:
        redis.Redis.from_url(REDIS_URL).flushdb()
        overrides |= {"QUEUE_URL": REDIS_URL, "HUEY_IMMEDIATE": False}
    with pytest.MonkeyPatch.context() as monkeypatch:
        app = make_app(request.param, tmp_path_factory.mktemp("fuzz"), monkeypatch, **overrides)
        with app.app_context():
            users = {r: create_user(f"{r}@example.com", PASSWORD, r) for r in ("admin", "viewer")}
            seed_records(users["admin"].id)
            tokens = {r: issue_token(user) for r, user in users.items()}
            yield app, tokens
            db.session.remove()
            db.engine.dispose()
    if "QUEUE_URL" in overrides:
        redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture(scope="module", params=["admin", "viewer"])
def role(request) -> str:
    return request.param


# The description is generated from the route registry, which needs no app.
schema = schemathesis.openapi.from_dict(description(), config=schemathesis.Config.from_dict(CONFIG))


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_holds_against_its_own_description(case, fuzz_app, role, request):
    app, tokens = fuzz_app
    if case.operation.label in KNOWN_FAILING:
        request.node.add_marker(pytest.mark.xfail(reason=KNOWN_FAILING[case.operation.label]))
    case.operation.schema.app = app  # checks that send requests of their own use it too
    try:
        case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, app=app)
    finally:
        # As at the end of a real request (the tests keep one app context): a failed request
        # must not leave the next one an aborted transaction.
        db.session.remove()
