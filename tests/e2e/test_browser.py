"""The console in a real browser: Debian's Chromium driven by Playwright, against the app
served on localhost with a real consumer. Skipped where Chromium is missing (.ci/run has it).

With JOBDECK_SCREENSHOTS=<folder> (``make screenshots``), the dashboard, job page, failure
groups and waiting job tests also save the README's screenshots there."""

import os
import re
import shutil
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from jobkit import Call, pauses
from tasks.samples import sample_job
from tests.conftest import PASSWORD
from tests.e2e.conftest import wait_for
from tests.fake_tvmaze import QuietHandler
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.models.series import Series
from webapp.models.transfers import Import
from webapp.models.users import User
from webapp.services import batches
from webapp.services.users import create_user

CHROMIUM = "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Chromium is not installed")


@pytest.fixture
def site(e2e):
    if e2e["database"] != "sqlite":
        pytest.skip("the browser tests run once, on SQLite")
    app = e2e["app"]
    app.config["WTF_CSRF_ENABLED"] = True
    create_user("op@example.com", PASSWORD, "operator")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    e2e["start"]()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page(site):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(base_url=site, viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        # the Content-Security-Policy is on: nothing it refuses, no script error
        errors: list[str] = []
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and errors.append(m.text),
        )
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/login")
        page.fill("input[name=email]", "op@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{site}/")
        yield page
        browser.close()
    assert errors == [], errors


def screenshot(page, name: str) -> None:
    folder = os.environ.get("JOBDECK_SCREENSHOTS")
    if folder:
        # caret="initial": hiding the caret injects a style, which the CSP refuses on a page that
        # htmx is refreshing
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True, caret="initial")


def test_the_dashboard_refreshes_itself(page, e2e):
    page.goto("/")
    # (the consumer's own periodic jobs may have finished already: count from here)
    before = int(page.locator(".card-completed .card-count").first.inner_text())
    for steps in (2, 3, 4):
        sample_job.dispatch(steps=steps, step_seconds=0.1)
    sample_job.dispatch(steps=3, step_seconds=0.1, fail_at_step=2)
    # no reload: the live part polls and the counts and tables change in place
    page.wait_for_function(
        "n => Number(document.querySelector('.card-completed .card-count').textContent) >= n",
        arg=before + 3,
        timeout=30_000,
    )
    page.locator("#dashboard_live .ranking >> text=sample_job").first.wait_for()
    assert page.locator("text=Most failing tasks").is_visible()
    assert page.locator("#server-clock").is_visible()
    screenshot(page, "dashboard")


def test_an_unchanged_dashboard_poll_is_a_304_that_leaves_it_as_it_is(page, e2e):
    page.goto("/")
    page_url = page.url.rstrip("/")

    def is_poll(response) -> bool:
        request = response.request
        return request.headers.get("hx-request") == "true" and response.url.rstrip("/") == page_url

    # what the server sent, leaving out what ticks in the browser
    shown = (
        "() => { const c = document.getElementById('dashboard_live').cloneNode(true);"
        " c.querySelectorAll('#server-clock, [data-elapsed-since], [data-countdown-to]')"
        ".forEach(e => e.remove()); return c.textContent; }"
    )
    mark = "() => document.getElementById('dashboard_live').dataset.mark"
    seen = []
    for _ in range(20):  # the consumer's periodic jobs and each new minute change the page
        page.wait_for_timeout(300)  # let htmx finish the previous swap
        # a mark on the element itself: a swap replaces the element and loses it
        page.evaluate("document.getElementById('dashboard_live').dataset.mark = 'kept'")
        before = page.evaluate(shown)
        with page.expect_response(is_poll, timeout=15_000) as polled:
            pass
        response = polled.value
        seen.append((response.status, response.request.headers.get("if-none-match")))
        if response.status == 304:
            page.wait_for_timeout(500)
            assert page.evaluate(mark) == "kept"
            assert page.evaluate(shown) == before
            assert response.request.headers["if-none-match"] == response.headers["etag"]
            break
    else:
        pytest.fail(f"no poll was answered 304: {seen}")
    # and a change still shows, by itself
    count = int(page.locator(".card-completed .card-count").first.inner_text())
    sample_job.dispatch(steps=1, step_seconds=0)
    page.wait_for_function(
        "n => Number(document.querySelector('.card-completed .card-count').textContent) > n",
        arg=count,
        timeout=30_000,
    )
    assert page.evaluate(mark) is None


def test_watch_a_job_progress_and_finish(page):
    page.click("text=Run a sample job")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    bar = page.locator("#job_status progress")
    bar.wait_for()
    page.wait_for_function(
        "() => { const p = document.querySelector('#job_status progress');"
        " return p && Number(p.value) > 0 && Number(p.value) < 100; }"
    )
    page.locator("#job_status .badge-completed").wait_for()
    assert page.locator("text=Counted 10 steps.").is_visible()
    assert page.locator("#job_status[hx-trigger]").count() == 0  # polling stopped by itself
    screenshot(page, "job")


def test_a_batch_bar_draws_its_parts_under_the_policy(page):
    # 3 completed and 1 failed of 4: a green part three times as wide as the red one, drawn
    # (the policy refuses inline style="width: …", which once left the bar empty)
    batch = batches.create_batch("four", 4)
    steps = [Call(kwargs={"steps": 1, "step_seconds": 0}) for _ in range(3)]
    steps.append(Call(kwargs={"steps": 1, "step_seconds": 0, "fail_at_step": 1}))
    sample_job.dispatch_many(steps, batch_id=batch.id)
    page.goto(f"/batches/{batch.id}")
    page.locator(".progress-line >> text=100%").wait_for(timeout=30_000)
    bar = page.locator(".progress-line .batch-bar").bounding_box()
    done = page.locator(".progress-line .batch-bar .bar-completed").bounding_box()
    failed = page.locator(".progress-line .batch-bar .bar-failed").bounding_box()
    assert bar["width"] > 50 and bar["height"] > 0
    assert done["height"] > 0 and failed["height"] > 0
    assert done["width"] == pytest.approx(0.75 * bar["width"], abs=1)
    assert failed["width"] == pytest.approx(0.25 * bar["width"], abs=1)
    assert failed["x"] == pytest.approx(done["x"] + done["width"], abs=1)  # side by side
    green = page.locator(".bar-completed").first.evaluate("e => getComputedStyle(e).fill")
    assert green == "rgb(22, 163, 74)"
    screenshot(page, "batch")
    page.goto("/batches")
    assert page.locator(".batch-bar .bar-failed").first.bounding_box()["width"] > 0


def test_retry_a_failed_job_from_the_failed_list(page, e2e):
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    page.goto("/failed")
    for _ in range(40):
        if page.locator(f"input[name=ids][value='{failed}']").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    page.check(f"input[name=ids][value='{failed}']")
    page.click("text=Retry selected")
    page.locator("text=Retried 1 failed job(s).").wait_for()


def test_create_a_schedule_with_a_preset_and_see_its_next_runs(page):
    page.goto("/schedules/new")
    page.fill("input[name=name]", "Nightly prune")
    page.select_option("select[name=command]", "jobs prune")
    page.fill("textarea[name=parameters]", "--days 30")
    page.select_option("select[name=preset]", "daily_at")
    page.fill("input[name=preset_at]", "02:30")
    page.locator("#preview >> text=At 02:30").wait_for()
    assert page.locator("#preview li").count() == 5
    page.click("button:text('Save')")
    page.wait_for_url(re.compile(r"/schedules/\d+$"))
    assert page.locator("text=At 02:30").first.is_visible()


def test_upload_a_csv_and_see_its_refused_rows(page, tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("name,tvmaze_id,tvdb_id\nGood,1,\nBad,abc,\n")
    page.goto("/imports")
    page.set_input_files("input[name=file]", str(path))
    page.click("text=Upload and import")
    page.wait_for_url(re.compile(r"/imports/\d+$"))
    page.locator("#import_status h1 .badge-completed").wait_for()
    assert page.locator("#import_status td:text-is('3')").count() == 1  # row 3 as in the file
    assert page.locator("text=Download refused rows").is_visible()


def test_a_ticked_dry_run_writes_nothing(page, tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("name,tvmaze_id,tvdb_id\nGame of Thrones,82,121361\nBreaking Bad,169,\n")
    page.goto("/imports")
    page.set_input_files("input[name=file]", str(path))
    page.check("input[name=dry_run]")
    page.click("text=Upload and import")
    page.wait_for_url(re.compile(r"/imports/\d+$"))
    page.locator("#import_status h1 .badge-completed").wait_for()
    assert page.locator("text=Nothing was written.").is_visible()
    assert page.locator(".card-completed .card-label").inner_text().lower() == "would be created"
    assert page.locator(".card-completed .card-count").inner_text() == "2"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Series)) == 0
    [record] = db.session.scalars(select(Import)).all()
    assert record.dry_run and record.created_rows == 2
    page.goto("/series")
    assert page.locator("text=Game of Thrones").count() == 0


def test_start_an_export_and_download_it(page):
    page.goto("/exports")
    page.select_option("select[name=dataset]", "job_logs")
    page.select_option("select[name=format]", "csv")
    page.click("text=Start export")
    link = page.locator("#export_table a:text('Download')")
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".csv")


def test_the_api_docs_render_under_their_policy(page):
    page.goto("/api/docs")
    # Redoc renders the description's operations; the policy refuses nothing it needs
    page.locator("text=Job logs, newest first").first.wait_for()
    assert page.locator("#redoc h1").count() >= 1


def test_on_a_phone_the_navigation_is_a_menu(page):
    page.goto("/jobs")
    assert page.locator("[data-nav-toggle]").is_hidden()  # wide: every link in the bar
    assert page.locator("#nav-links >> text=Integrations").is_visible()
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/jobs")
    toggle = page.locator("[data-nav-toggle]")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("#nav-links").is_hidden()
    # nothing runs off the right edge of the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "phone-menu-closed")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    labels = [
        "Dashboard",
        "Jobs",
        "Failed",
        "Batches",
        "Schedules",
        "Imports",
        "Exports",
        "Series",
        "Integrations",
    ]
    for label in labels:
        link = page.locator(f"#nav-links a:text-is('{label}')")
        assert link.is_visible(), label
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, (label, box)
    assert page.locator("#nav-links >> text=Sign out").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "phone-menu")
    page.click("#nav-links >> text=Integrations")
    page.wait_for_url(re.compile(r"/integrations$"))
    assert page.locator("#nav-links").is_hidden()  # a new page starts with the menu closed


def _past_failures() -> None:
    """Failed jobs of other tasks, as a console collects them over a day."""
    now = utcnow()
    errors = [
        ("import_episode_data", "HTTPStatusError: Server error '503 Service Unavailable' for url "
         "'https://api.tvmaze.com/episodes/{}'", 7, "low"),
        ("import_series_data", "ReadTimeout: timed out after 15 s", 4, "low"),
        ("process_integration_data", "KeyError: 'items'", 2, "default"),
    ]  # fmt: skip
    for task, error, count, queue in errors:
        for n in range(count):
            db.session.add(
                JobLog(
                    task=task,
                    queue=queue,
                    status="failed",
                    error=error.format(1000 + 37 * n),
                    attempts=3,
                    max_attempts=3,
                    created_at=now - timedelta(hours=5 - n * 0.4),
                    finished_at=now - timedelta(hours=5 - n * 0.4),
                    arguments={"args": [n + 1], "kwargs": {}},
                )
            )
    db.session.commit()


def test_failure_groups_and_retry_a_group(page, e2e):
    _past_failures()
    ids = [sample_job.dispatch(steps=n, step_seconds=0, fail_at_step=1) for n in (2, 3, 5)]
    wait_for(
        lambda: (
            db.session.scalar(
                select(func.count()).where(JobLog.id.in_(ids), JobLog.status == "failed")
            )
            == 3
        ),
        what="three failed sample jobs",
    )
    page.goto("/failed")
    page.click("text=Grouped by error")
    page.wait_for_url(re.compile(r"/failed\?group=1"))
    row = page.locator("tr", has_text="SampleJobFailure")
    assert row.locator("td").first.inner_text() == "3"
    assert "failed at step <n> of <n>, as asked" in row.inner_text()
    assert page.locator("table.failure-groups tbody tr").count() == 4
    screenshot(page, "failure-groups")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.locator("button:text('Retry this group')").click()
    page.locator("text=Retried 3 failed job(s) of sample_job · SampleJobFailure.").wait_for()
    assert asked and "Retry the 3 failed job(s)" in asked[0]
    retried = db.session.scalars(select(JobLog.retry_of).where(JobLog.retry_of.in_(ids))).all()
    assert sorted(retried) == ids


def test_retry_with_changes_from_the_job_page(page, e2e):
    failed = sample_job.dispatch(steps=3, step_seconds=0, fail_at_step=2)
    wait_for(lambda: db.session.get(JobLog, failed).status == "failed", what="the failure")
    page.goto(f"/jobs/{failed}")
    page.click("text=Retry with changes")
    page.wait_for_url(re.compile(rf"/jobs/{failed}/retry-with-changes$"))
    shown = page.locator("textarea[name=arguments]").input_value()
    assert '"fail_at_step": 2' in shown
    page.fill("textarea[name=arguments]", '{"steps": "three"}')
    page.click("text=Retry with these arguments")
    page.locator("[role=alert]", has_text='steps must be int, not "three"').wait_for()
    page.fill("textarea[name=arguments]", '{"steps": 4, "step_seconds": 0.05}')
    page.click("text=Retry with these arguments")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    assert page.url.rsplit("/", 1)[1] != str(failed)
    page.locator("#job_status .badge-completed").wait_for()
    changes = page.locator("table.changes")
    assert "fail_at_step" in changes.inner_text() and "steps" in changes.inner_text()
    assert page.locator(f"text=Changed from #{failed}").is_visible()


def test_a_pending_job_says_why_it_waits(page, e2e, site):
    operator = db.session.scalars(select(User).where(User.email == "op@example.com")).one()
    pauses.pause("queue", "default", operator.id)
    page.wait_for_timeout(2500)  # a consumer reads the pauses at most every 2 s
    waiting = sample_job.dispatch(steps=3, step_seconds=0.1)
    page.goto(f"/jobs/{waiting}")
    reason = page.locator(".waiting-reason")
    reason.wait_for()
    assert "Paused: the default queue was paused by op@example.com" in reason.inner_text()
    screenshot(page, "waiting")
    pauses.resume("queue", "default")
    page.locator("#job_status .badge-completed").wait_for(timeout=30_000)
    assert page.locator(".waiting-reason").count() == 0


def test_after_the_back_button_the_filter_form_matches_the_table(page):
    failed, done = JobLog(task="sample_job", status="failed"), JobLog(task="sample_job")
    done.status = "completed"
    db.session.add_all([failed, done])
    db.session.commit()
    rows = "#job_table tbody tr"
    page.goto("/jobs")
    page.select_option("select[name=status]", "failed")
    page.wait_for_url(re.compile(r"status=failed"))
    page.locator(f"{rows} >> text=#{failed.id}").wait_for()
    page.select_option("select[name=status]", "completed")
    page.wait_for_url(re.compile(r"status=completed"))
    page.locator(f"{rows} >> text=#{done.id}").wait_for()
    assert page.url.endswith("/jobs?status=completed")  # only the filters that are set
    page.go_back()
    page.wait_for_url(re.compile(r"status=failed"))
    page.locator(f"{rows} >> text=#{failed.id}").wait_for()
    assert page.locator(f"{rows} >> text=#{done.id}").count() == 0
    assert page.locator("select[name=status]").input_value() == "failed"  # as the table
    page.go_forward()
    page.wait_for_url(re.compile(r"status=completed"))
    page.locator(f"{rows} >> text=#{done.id}").wait_for()
    assert page.locator("select[name=status]").input_value() == "completed"
