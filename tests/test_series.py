"""Series and episodes against a fake TVmaze on localhost: import-missing, stale refresh,
404 versus 5xx, rate limiting, no double dispatch, retry-failed."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.series import Episode, Series
from webapp.services.rate_limit import TokenBucket
from webapp.services.tvmaze import tvmaze
from webapp.services.users import create_user


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def add(runner, *args) -> None:
    result = runner.invoke(args=["series", "add", *args])
    assert result.exit_code == 0, result.output


def test_import_missing_data_imports_series_and_episodes(runner, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones", episodes=12, tvdb_id=121361)
    fake_tvmaze.add_show(169, "Breaking Bad", episodes=5)
    add(runner, "--tvmaze", "82")
    add(runner, "--tvmaze", "169")
    result = runner.invoke(args=["series", "import-missing-data"])
    assert result.output.strip() == "Dispatched 2 series data jobs."
    got = db.session.scalars(select(Series).order_by(Series.tvmaze_id)).all()
    assert [s.name for s in got] == ["Game of Thrones", "Breaking Bad"]
    assert got[0].tvdb_id == 121361 and got[0].summary == "All about Game of Thrones."
    assert all(s.data_last_updated_at is not None for s in got)
    assert count(Episode) == 17 and count(Episode, Episode.sync_status == "synced") == 17
    jobs = db.session.scalars(select(JobLog).where(JobLog.task == "import_series_data")).all()
    assert {(j.status, j.source_type) for j in jobs} == {("completed", "series")}
    assert {j.source_id for j in jobs} == {s.id for s in got}
    again = runner.invoke(args=["series", "import-missing-data"])
    assert again.output.strip() == "Dispatched 0 series data jobs."


def test_add_by_tvdb_id_looks_the_show_up(runner, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones", tvdb_id=121361)
    add(runner, "--tvdb", "121361")
    runner.invoke(args=["series", "import-missing-data"])
    series = db.session.scalars(select(Series)).one()
    assert series.tvmaze_id == 82 and series.name == "Game of Thrones"
    assert "/lookup/shows?thetvdb=121361" in fake_tvmaze.paths()


def test_series_add_refuses_bad_input(runner):
    assert runner.invoke(args=["series", "add"]).exit_code == 2
    assert runner.invoke(args=["series", "add", "--tvmaze", "1", "--tvdb", "2"]).exit_code == 2
    assert runner.invoke(args=["series", "add", "--tvmaze", "0"]).exit_code == 2
    add(runner, "--tvmaze", "5")
    duplicate = runner.invoke(args=["series", "add", "--tvmaze", "5"])
    assert duplicate.exit_code == 1 and "already there" in duplicate.output
    assert count(Series) == 1


def test_a_404_marks_the_series_gone_without_retries(runner, fake_tvmaze):
    add(runner, "--tvmaze", "999")
    runner.invoke(args=["series", "import-missing-data"])
    series = db.session.scalars(select(Series)).one()
    assert series.upstream_state == "gone" and series.data_last_updated_at is None
    job = db.session.scalars(select(JobLog)).one()
    assert job.status == "failed" and job.attempts == 1  # not retried
    assert "TVmaze has nothing at /shows/999" in job.error
    assert fake_tvmaze.paths().count("/shows/999") == 1
    # a gone series is not picked up again
    assert runner.invoke(args=["series", "import-missing-data"]).output.startswith("Dispatched 0")


def test_a_5xx_is_retried_as_retry_delays_says_then_fails(runner, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones")
    fake_tvmaze.broken["/shows/82"] = 503
    add(runner, "--tvmaze", "82")
    runner.invoke(args=["series", "import-missing-data"])
    job = db.session.scalars(select(JobLog)).one()
    assert job.status == "failed" and job.attempts == 3 and job.max_attempts == 3
    assert "TVmaze answered 503 on /shows/82" in job.error
    assert fake_tvmaze.paths().count("/shows/82") == 3
    series = db.session.scalars(select(Series)).one()
    assert series.upstream_state == "ok" and series.data_last_updated_at is None


def test_a_5xx_that_recovers_completes(runner, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones")
    fake_tvmaze.flaky["/shows/82/episodes"] = 1
    add(runner, "--tvmaze", "82")
    runner.invoke(args=["series", "import-missing-data"])
    job = db.session.scalars(select(JobLog)).one()
    assert job.status == "completed" and job.attempts == 2
    assert job.error == "UpstreamUnavailable: TVmaze answered 500 on /shows/82/episodes"


def age(model, ids, hours):
    for row in db.session.scalars(select(model).where(model.id.in_(ids))):
        row.data_last_updated_at = utcnow() - timedelta(hours=hours)
    db.session.commit()


def test_check_data_updates_skips_what_did_not_change_upstream(runner, fake_tvmaze):
    for show_id in (1, 2, 3):
        fake_tvmaze.add_show(show_id, f"Show {show_id}")
        add(runner, "--tvmaze", str(show_id))
    runner.invoke(args=["series", "import-missing-data"])
    age(Series, [1, 2, 3], hours=30)
    now = int(time.time())
    fake_tvmaze.updates = {
        1: now - 60,
        2: now - 40 * 3600,
    }  # 1 changed; 2 not since import; 3 absent
    result = runner.invoke(args=["series", "check-data-updates", "--hours", "24"])
    assert result.output.strip() == (
        "Dispatched 1 series data jobs; skipped 2 that TVmaze says have not changed."
    )
    assert "/updates/shows?since=week" in fake_tvmaze.paths()
    fresh = db.session.get(Series, 1).data_last_updated_at
    assert fresh > utcnow() - timedelta(minutes=1)
    assert db.session.get(Series, 2).data_last_updated_at < utcnow() - timedelta(hours=29)


def test_check_data_updates_refreshes_all_when_upstream_cannot_say(runner, fake_tvmaze):
    fake_tvmaze.add_show(1, "Show 1")
    add(runner, "--tvmaze", "1")
    runner.invoke(args=["series", "import-missing-data"])
    age(Series, [1], hours=30)
    fake_tvmaze.broken["/updates/shows"] = 502
    result = runner.invoke(args=["series", "check-data-updates"])
    assert "could not ask TVmaze what changed" in result.output
    assert "Dispatched 1 series data jobs; skipped 0" in result.output


def test_check_data_updates_validates_hours(runner):
    for bad in ("0", "-3", "soon"):
        result = runner.invoke(args=["series", "check-data-updates", "--hours", bad])
        assert result.exit_code == 2, bad
    assert runner.invoke(args=["episodes", "check-data-updates", "--hours", "0"]).exit_code == 2


def test_episode_commands(runner, fake_tvmaze):
    fake_tvmaze.add_show(7, "Seven", episodes=4)
    add(runner, "--tvmaze", "7")
    runner.invoke(args=["series", "import-missing-data"])
    episodes = db.session.scalars(select(Episode)).all()
    age(Episode, [e.id for e in episodes], hours=72)
    fake_tvmaze.updates = {7: int(time.time()) - 60}
    result = runner.invoke(args=["episodes", "check-data-updates"])
    assert "Dispatched 4 episode data jobs; skipped 0" in result.output
    assert all(
        e.data_last_updated_at > utcnow() - timedelta(minutes=1)
        for e in db.session.scalars(select(Episode))
    )
    missing = runner.invoke(args=["episodes", "import-missing-data"])
    assert missing.output.strip() == "Dispatched 0 episode data jobs."


def test_no_second_data_job_while_one_is_pending(queued):
    runner = queued.test_cli_runner()
    for show_id in (1, 2):
        add(runner, "--tvmaze", str(show_id))
    first = runner.invoke(args=["series", "import-missing-data"])
    assert first.output.strip() == "Dispatched 2 series data jobs."
    second = runner.invoke(args=["series", "import-missing-data"])
    assert second.output.strip() == "Dispatched 0 series data jobs."
    assert count(JobLog) == 2


def test_rate_limit_holds_under_a_burst_from_many_threads(app):
    bucket = TokenBucket(db.engine, "burst-test", limit=6, period=1)
    stamps = []

    def worker():
        for _ in range(3):
            bucket.acquire()
            stamps.append(time.monotonic())

    threads = [
        threading.Thread(target=lambda: app.app_context().push() or worker()) for _ in range(4)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 12
    # 3 at once, then 3 a second: the 12th call cannot come before 3 s
    assert stamps[-1] - start >= 2.9
    for stamp in stamps:
        assert len([s for s in stamps if stamp <= s < stamp + 1]) <= 6


def test_the_client_waits_for_retry_after_on_429(app, fake_tvmaze):
    fake_tvmaze.add_show(1, "One")
    fake_tvmaze.too_many = 1
    fake_tvmaze.retry_after = 1
    start = time.monotonic()
    assert tvmaze().show(1)["name"] == "One"
    assert time.monotonic() - start >= 0.9
    assert fake_tvmaze.paths() == ["/shows/1", "/shows/1"]


def test_the_client_keeps_20_calls_per_10_seconds(app, fake_tvmaze):
    fake_tvmaze.add_show(1, "One")
    client = tvmaze()
    for _ in range(13):
        client.show(1)
    times = [t for t, _ in fake_tvmaze.calls]
    # 10 at once, then one a second: never more than 20 in any 10 seconds
    assert times[9] - times[0] < 0.5
    assert times[12] - times[0] >= 2.5


def seed_failed_episodes(runner, fake_tvmaze):
    for show_id, name in ((1, "One"), (2, "Two")):
        fake_tvmaze.add_show(show_id, name, episodes=3)
        add(runner, "--tvmaze", str(show_id))
    runner.invoke(args=["series", "import-missing-data"])
    episodes = db.session.scalars(select(Episode).order_by(Episode.id)).all()
    for episode in episodes[:2] + episodes[3:4]:
        episode.sync_status = "failed"
        episode.last_error = "boom"
    db.session.commit()


def test_retry_failed_resets_and_dispatches_one_job_per_series(runner, fake_tvmaze):
    seed_failed_episodes(runner, fake_tvmaze)
    before = len(fake_tvmaze.calls)
    result = runner.invoke(args=["episodes", "retry-failed", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Series 1 (One): 2 failed episode syncs" in result.output
    assert "Series 2 (Two): 1 failed episode syncs" in result.output
    jobs = db.session.scalars(select(JobLog).where(JobLog.task == "sync_pending_episodes")).all()
    assert sorted(j.source_id for j in jobs) == [1, 2]
    assert all(j.status == "completed" for j in jobs)
    assert count(Episode, Episode.sync_status == "synced") == 6
    assert len(fake_tvmaze.calls) - before == 3  # only the three that had failed
    again = runner.invoke(args=["episodes", "retry-failed", "--yes"])
    assert again.output.strip() == "No failed episode syncs found."


def test_retry_failed_reset_only_filters_and_confirmation(runner, fake_tvmaze):
    seed_failed_episodes(runner, fake_tvmaze)
    declined = runner.invoke(args=["episodes", "retry-failed"], input="n\n")
    assert declined.exit_code == 1 and count(Episode, Episode.sync_status == "failed") == 3
    only_two = runner.invoke(args=["episodes", "retry-failed", "--series", "2", "--reset", "--yes"])
    assert "Reset 1 episode syncs to pending in 1 series." in only_two.output
    assert count(Episode, Episode.sync_status == "pending") == 1
    assert count(JobLog, JobLog.task == "sync_pending_episodes") == 0
    nobody = create_user("nobody@example.com", "long-password")
    none_for_user = runner.invoke(
        args=["episodes", "retry-failed", "--user", str(nobody.id), "--yes"]
    )
    assert none_for_user.output.strip() == "No failed episode syncs found."


@pytest.mark.parametrize(
    "option, message",
    [("--series", "series 424242 not found"), ("--user", "user 424242 not found")],
)
def test_retry_failed_refuses_an_unknown_series_or_user(runner, fake_tvmaze, option, message):
    seed_failed_episodes(runner, fake_tvmaze)
    result = runner.invoke(args=["episodes", "retry-failed", option, "424242", "--yes"])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output
    assert count(Episode, Episode.sync_status == "failed") == 3  # nothing reset


def test_reset_episodes_are_synced_by_the_next_import_missing_data(runner, fake_tvmaze):
    seed_failed_episodes(runner, fake_tvmaze)
    reset = runner.invoke(args=["episodes", "retry-failed", "--reset", "--yes"])
    assert reset.exit_code == 0 and "Reset 3 episode syncs to pending in 2 series" in reset.output
    pending = db.session.scalars(select(Episode).where(Episode.sync_status == "pending")).all()
    assert len(pending) == 3 and all(e.last_error is None for e in pending)
    assert count(JobLog, JobLog.task == "sync_pending_episodes") == 0  # --reset: reset only
    before = len(fake_tvmaze.calls)
    result = runner.invoke(args=["episodes", "import-missing-data"])
    assert result.exit_code == 0, result.output
    assert "Dispatched 2 series jobs for 3 reset episodes." in result.output
    jobs = db.session.scalars(select(JobLog).where(JobLog.task == "sync_pending_episodes")).all()
    assert sorted(j.source_id for j in jobs) == [1, 2]
    assert [j.message for j in sorted(jobs, key=lambda j: j.source_id)] == [
        "Synced 2 pending episodes, 0 failed.",
        "Synced 1 pending episodes, 0 failed.",
    ]
    assert len(fake_tvmaze.calls) - before == 3  # the synced ones were skipped
    db.session.expire_all()
    assert count(Episode, Episode.sync_status == "synced") == 6
    again = runner.invoke(args=["episodes", "import-missing-data"])
    assert again.output.strip() == "Dispatched 0 episode data jobs."
