"""Schedules: cron and presets, DST, exactly-once ticks, catch-up, overlap, parameters, run now."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from jobkit import locks
from tasks.schedules import tick
from tests.conftest import make_app
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services import schedule_runs, timing
from webapp.services import schedules as service

PRUNE = {"name": "prune", "command": "jobs prune", "parameters": {"--days": "30"}}


def test_presets_fill_in_cron():
    assert timing.preset_cron("every_minute") == "* * * * *"
    assert timing.preset_cron("every_30_seconds") == "* * * * * */30"
    assert timing.preset_cron("hourly") == "0 * * * *"
    assert timing.preset_cron("daily") == "0 0 * * *"
    assert timing.preset_cron("daily_at", at="02:30") == "30 2 * * *"
    assert timing.preset_cron("twice_daily", hours="1,13") == "0 1,13 * * *"
    assert timing.preset_cron("weekly_on", at="04:00", day="Sunday") == "0 4 * * 0"
    assert timing.preset_cron("monthly_on", at="05:15", day="1") == "15 5 1 * *"
    for bad in (
        ("daily_at", {"at": "25:00"}),
        ("weekly_on", {"day": "someday"}),
        ("monthly_on", {"day": "32"}),
        ("twice_daily", {"hours": "1"}),
        ("yearly", {}),
    ):
        with pytest.raises(timing.TimingError):
            timing.preset_cron(bad[0], **bad[1])


def test_cron_validation_and_description():
    assert timing.validate_cron(" 0  3 * * 1 ") == "0 3 * * 1"
    assert timing.describe("0 3 * * 1") == "At 03:00, only on Monday"
    assert timing.describe("* * * * * */30") == "Every 30 seconds"
    for bad in ("", "* * *", "61 * * * *", "every day", "* * * * * * *"):
        with pytest.raises(timing.TimingError):
            timing.validate_cron(bad)
    with pytest.raises(timing.TimingError, match="time zone"):
        timing.zone("Mars/Olympus")


def test_next_runs_follow_daylight_saving_in_the_schedules_zone():
    berlin = "Europe/Berlin"
    spring = timing.next_runs("30 2 * * *", berlin, datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    # 02:30 does not exist on 29 March: it runs at the first moment after the jump
    assert [r.isoformat() for r in spring] == [
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:30:00+00:00",
    ]
    autumn = timing.next_runs("30 2 * * *", berlin, datetime(2026, 10, 24, 12, tzinfo=UTC), 3)
    # 02:30 happens twice on 25 October: it runs once
    assert [r.isoformat() for r in autumn] == [
        "2026-10-25T00:30:00+00:00",
        "2026-10-26T01:30:00+00:00",
        "2026-10-27T01:30:00+00:00",
    ]
    new_york = timing.next_runs(
        "0 9 * * *", "America/New_York", datetime(2026, 1, 1, tzinfo=UTC), 1
    )
    assert new_york[0].hour == 14  # 09:00 EST


def test_parameters_are_checked_against_the_click_command(app):
    with pytest.raises(service.ScheduleError, match="unknown option --weeks"):
        service.create_schedule({**PRUNE, "parameters": {"--weeks": "2"}})
    with pytest.raises(service.ScheduleError, match="--days"):
        service.create_schedule({**PRUNE, "parameters": {"--days": "soon"}, "cron": "* * * * *"})
    with pytest.raises(service.ScheduleError, match="--days is required"):
        service.create_schedule({**PRUNE, "parameters": {}, "cron": "* * * * *"})
    with pytest.raises(service.ScheduleError, match="cannot be scheduled"):
        service.create_schedule({**PRUNE, "command": "users create", "cron": "* * * * *"})
    with pytest.raises(service.ScheduleError, match="cannot be scheduled"):
        service.create_schedule({**PRUNE, "command": "rm -rf /", "cron": "* * * * *"})
    made = service.create_schedule(
        {
            "name": "refresh",
            "command": "series check-data-updates",
            "parameters": {"--hours": "12"},
            "preset": "daily_at",
            "preset_at": "02:30",
            "timezone": "Europe/Berlin",
        }
    )
    assert made.cron == "30 2 * * *" and made.next_run_at > utcnow()
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 1


def make(cron="* * * * *", **extra) -> Schedule:
    return service.create_schedule(
        {**PRUNE, "name": extra.pop("name", "prune"), "cron": cron, **extra}
    )


def test_two_schedulers_ticking_at_once_plan_each_run_once(database, tmp_path, monkeypatch):
    app = make_app(database, tmp_path, monkeypatch)
    with app.app_context():
        schedule = make("* * * * * */30")
        schedule.next_run_at = timing.next_runs(
            schedule.cron, "UTC", utcnow() - timedelta(seconds=30)
        )[0]
        db.session.commit()
        db.session.remove()
    results = []
    barrier = threading.Barrier(2)

    def scheduler():
        with app.app_context():
            barrier.wait()
            results.append(len(schedule_runs.plan_due_runs()))
            db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        runs = db.session.scalars(select(ScheduleRun)).all()
        due_times = [r.due_at for r in runs]
        assert len(due_times) == len(set(due_times)) == sum(results)
        assert 2 <= len(runs) <= 3  # now-ish, and every 30 s until the next tick
        db.session.remove()
        db.engine.dispose()


def test_a_tick_dispatches_sub_minute_runs_with_their_delay(app):
    schedule = make("* * * * * */30")
    schedule.next_run_at = timing.next_runs(schedule.cron, "UTC", utcnow() - timedelta(seconds=30))[
        0
    ]
    db.session.commit()
    planned = schedule_runs.plan_due_runs()
    delays = sorted(run.delay for run in planned)
    assert delays[0] == 0 and all(0 <= d <= 60 for d in delays) and len(delays) >= 2
    assert schedule.next_run_at > utcnow() + timedelta(seconds=59)
    assert schedule_runs.plan_due_runs() == []  # nothing twice


def test_missed_runs_are_caught_up_once(app):
    schedule = make("*/5 * * * *")
    schedule.next_run_at = first = timing.next_runs(
        "*/5 * * * *", "UTC", utcnow() - timedelta(hours=2)
    )[0]
    db.session.commit()
    now = utcnow()
    missed = [
        t
        for t in timing.next_runs("*/5 * * * *", "UTC", first - timedelta(seconds=1), 40)
        if t < now - timedelta(seconds=schedule_runs.CATCH_UP_GRACE_SECONDS)
    ]
    count = tick()
    runs = db.session.scalars(select(ScheduleRun).order_by(ScheduleRun.due_at)).all()
    catch_up = [r for r in runs if r.trigger == "catch-up"]
    assert len(catch_up) == 1 and count == len(runs)
    assert catch_up[0].note.startswith(f"{len(missed)} run(s) missed")
    assert catch_up[0].due_at == missed[-1]
    assert "caught up once" in catch_up[0].note
    assert catch_up[0].status == "succeeded" and catch_up[0].exit_code == 0  # immediate mode ran it
    assert "Deleted 0 finished job logs" in catch_up[0].output


def test_a_run_records_exit_code_output_and_its_job(app):
    schedule = make()
    run = schedule_runs.manual_run(schedule)
    from tasks.schedules import dispatch_run

    job_id = dispatch_run(run)
    db.session.refresh(run)
    assert run.status == "succeeded" and run.exit_code == 0 and run.job_log_id == job_id
    assert run.output.strip() == "Deleted 0 finished job logs older than 30 days."
    job = db.session.get(JobLog, job_id)
    assert job.status == "completed" and job.source == {"type": "schedule", "id": schedule.id}


def test_a_failing_command_is_a_failed_run_and_a_failed_job(app, runner):
    schedule = service.create_schedule(
        {
            "name": "bad",
            "command": "episodes retry-failed",
            "parameters": {"--series": "1"},
            "cron": "0 * * * *",
        }
    )
    # no failed syncs: exits 0; so make it fail: an unknown series id is fine, a prompt is not
    from webapp.models.series import Episode, Series

    db.session.add(Series(id=1, tvmaze_id=1))
    db.session.add(Episode(series_id=1, tvmaze_id=5, sync_status="failed"))
    db.session.commit()
    from tasks.schedules import dispatch_run

    job_id = dispatch_run(schedule_runs.manual_run(schedule))
    run = db.session.scalars(select(ScheduleRun)).one()
    assert run.status == "failed" and run.exit_code == 1 and "Aborted" in run.output
    job = db.session.get(JobLog, job_id)
    assert job.status == "failed" and "exited with 1" in job.error
    failed = json.loads(runner.invoke(args=["queue", "failed", "--json"]).output)
    assert [j["id"] for j in failed] == [job_id]


def test_without_overlapping_skips_and_records_it(app):
    schedule = make(without_overlapping=True)
    assert locks.acquire(f"schedule:{schedule.id}", "run:earlier", ttl_seconds=600)
    run = schedule_runs.execute_run(schedule_runs.manual_run(schedule).id)
    assert run.status == "skipped" and "previous run was still going" in run.note
    locks.release(f"schedule:{schedule.id}", "run:earlier")
    again = schedule_runs.execute_run(schedule_runs.manual_run(schedule, "again").id)
    assert again.status == "succeeded"


def test_schedule_cli(runner, app):
    assert "No schedules" in runner.invoke(args=["schedule", "list"]).output
    installed = runner.invoke(args=["schedule", "install-defaults"])
    assert installed.output.count("(off)") == 5
    listed = json.loads(runner.invoke(args=["schedule", "list", "--json"]).output)
    assert {s["active"] for s in listed} == {False}
    assert {s["command"] for s in listed} >= {"series import-missing-data", "jobs prune"}
    assert set(listed[0]) >= {
        "id",
        "name",
        "command",
        "parameters",
        "cron",
        "timezone",
        "active",
        "without_overlapping",
        "next_run_at",
        "last_run",
    }
    tested = runner.invoke(args=["schedule", "test", "Daily job-log prune"])
    assert tested.exit_code == 0 and "exit code 0 (succeeded)" in tested.output
    assert runner.invoke(args=["schedule", "test", "nope"]).exit_code == 1
    assert (
        runner.invoke(args=["schedule", "run"]).output.strip() == "Dispatched 0 scheduled run(s)."
    )


def test_schedules_api(client, bearer):
    operator = bearer("operator")
    bad = client.post("/api/schedules", json={**PRUNE, "cron": "every day"}, headers=operator)
    assert bad.status_code == 422 and bad.get_json()["error"]["message"].startswith("cron:")
    created = client.post(
        "/api/schedules",
        json={**PRUNE, "cron": "0 3 * * *", "timezone": "Europe/Berlin"},
        headers=operator,
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["cron_description"] == "At 03:00" and body["last_run"] is None
    duplicate = client.post("/api/schedules", json={**PRUNE, "cron": "0 3 * * *"}, headers=operator)
    assert duplicate.status_code == 409
    sid = body["id"]
    patched = client.patch(f"/api/schedules/{sid}", json={"active": False}, headers=operator)
    assert patched.get_json()["active"] is False and patched.get_json()["next_run_at"] is None
    assert (
        client.patch(
            f"/api/schedules/{sid}", json={"parameters": {"--x": 1}}, headers=operator
        ).status_code
        == 422
    )
    assert client.patch(f"/api/schedules/{sid}", data="nope", headers=operator).status_code == 400
    run = client.post(f"/api/schedules/{sid}/run", headers=operator)
    assert run.status_code == 202 and run.get_json()["status"] == "succeeded"
    runs = client.get(f"/api/schedules/{sid}/runs", headers=bearer("viewer")).get_json()
    assert set(runs[0]) >= {"started_at", "finished_at", "exit_code", "output", "job_log_id"}
    assert client.delete(f"/api/schedules/{sid}", headers=operator).status_code == 403
    assert client.delete(f"/api/schedules/{sid}", headers=bearer("admin")).status_code == 204
    assert client.get(f"/api/schedules/{sid}", headers=operator).status_code == 404


def test_schedule_pages(client, login):
    login("operator")
    assert "No schedules yet" in client.get("/schedules").get_data(as_text=True)
    refused = client.post(
        "/schedules/new",
        data={
            "name": "x",
            "command": "jobs prune",
            "parameters": "--days soon",
            "cron": "* * * * *",
            "timezone": "UTC",
            "queue": "default",
        },
    )
    assert refused.status_code == 422 and "--days" in refused.get_data(as_text=True)
    made = client.post(
        "/schedules/new",
        data={
            "name": "Nightly prune",
            "command": "jobs prune",
            "parameters": "--days 14",
            "preset": "daily_at",
            "preset_at": "01:00",
            "timezone": "Europe/Berlin",
            "queue": "low",
            "active": "y",
        },
    )
    schedule = db.session.scalars(select(Schedule)).one()
    assert made.headers["Location"] == f"/schedules/{schedule.id}"
    assert schedule.cron == "0 1 * * *" and schedule.parameters == {"--days": "14"}
    preview = client.get(
        "/schedules/preview?preset=weekly_on&preset_day=monday&preset_at=04:00"
        "&timezone=Europe/Berlin",
        headers={"HX-Request": "true"},
    )
    text = preview.get_data(as_text=True)
    assert text.lstrip().startswith('<article id="preview"')
    assert "At 04:00, only on Monday" in text and text.count("<li>") == 5 and "Mon " in text
    assert "not a valid cron" in client.get("/schedules/preview?cron=99+*+*+*+*").get_data(
        as_text=True
    )
    toggled = client.post(f"/schedules/{schedule.id}/toggle", headers={"HX-Request": "true"})
    assert toggled.get_data(as_text=True).lstrip().startswith('<section id="schedule_table"')
    assert db.session.get(Schedule, schedule.id).active is False
    client.post(f"/schedules/{schedule.id}/run")
    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "succeeded" in page and "Deleted 0 finished job logs older than 14 days." in page
    assert client.get("/schedules/999").status_code == 404


@pytest.mark.parametrize("word, expected", [("y", True), ("Yes", True), ("off", False)])
def test_a_schedules_flag_takes_the_same_yes_and_no_words(client, bearer, word, expected):
    created = client.post(
        "/api/schedules",
        json={
            "name": "fetch",
            "command": "integrations fetch",
            "parameters": {"--force": word},
            "cron": "0 3 * * *",
        },
        headers=bearer("operator"),
    )
    assert created.status_code == 201
    assert created.get_json()["parameters"] == {"--force": expected}


def test_a_schedules_flag_refuses_other_words(client, bearer):
    refused = client.post(
        "/api/schedules",
        json={
            "name": "fetch",
            "command": "integrations fetch",
            "parameters": {"--force": "maybe"},
            "cron": "0 3 * * *",
        },
        headers=bearer("operator"),
    )
    assert refused.status_code == 422
    assert "--force must be true or false" in refused.get_json()["error"]["message"]
