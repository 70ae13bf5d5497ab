"""Keeping data fresh through a real consumer and a fake TVmaze over HTTP."""

import pytest
from sqlalchemy import func, select

from tasks.series import dispatch_series_data
from tests.e2e.conftest import wait_for
from tests.fake_tvmaze import FakeServer, FakeTVmaze
from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.series import Episode, Series
from webapp.services import series as series_service
from webapp.services import series_work


@pytest.fixture
def fake_upstream(e2e, monkeypatch):
    server = FakeServer(FakeTVmaze())
    e2e["app"].config["TVMAZE_URL"] = server.url
    monkeypatch.setenv("TVMAZE_URL", server.url)
    yield server.fake
    server.stop()


def test_import_missing_runs_in_the_consumer(e2e, fake_upstream):
    for show_id in (1, 2, 3):
        fake_upstream.add_show(show_id, f"Show {show_id}", episodes=4)
    fake_upstream.broken["/shows/3"] = 404
    ids = [series_service.add_series(tvmaze_id=i).id for i in (1, 2, 3)]
    e2e["start"]()  # reads TVMAZE_URL from the environment set above
    dispatch_series_data(series_work.series_missing_data())
    wait_for(
        lambda: (
            db.session.scalar(
                select(func.count()).where(
                    JobLog.task == "import_series_data", JobLog.status.in_(("completed", "failed"))
                )
            )
            == 3
        ),
        what="three finished data jobs",
    )
    assert db.session.scalar(select(func.count()).select_from(Episode)) == 8
    gone = db.session.get(Series, ids[2])
    assert gone.upstream_state == "gone"
    failed = db.session.scalars(
        select(JobLog).where(JobLog.task == "import_series_data", JobLog.status == "failed")
    ).one()
    assert failed.source_id == ids[2] and failed.attempts == 1
