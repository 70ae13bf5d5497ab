"""The console in a real browser: Debian's Chromium driven by Playwright, against the app
served on localhost with a real consumer. Skipped where Chromium is missing (.ci/run has it).

With JOBDECK_SCREENSHOTS=<folder> (``make screenshots``), the dashboard and job page tests also
save the README's screenshots there."""

import os
import re
import shutil
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from jobkit import Call
from tasks.samples import sample_job
from tests.conftest import PASSWORD
from tests.fake_tvmaze import QuietHandler
from webapp.extensions import db
from webapp.models.series import Series
from webapp.models.transfers import Import
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
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


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
