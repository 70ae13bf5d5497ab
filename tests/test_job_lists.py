"""The job lists' one filter object: the page, its bulk actions, the API and the CLI refuse the
same bad values and show the same rows; system jobs hidden unless asked; sorting; records by
name and users by e-mail, loaded for the whole page at once; the form matches the URL."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.conftest import PASSWORD
from tests.test_pages import HTMX, text
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog, JobTag
from webapp.models.series import Series
from webapp.services.jobs import FailedFilters, JobFilters, JobQueryError
from webapp.services.list_filters import ExportFilter, ScheduleFilter
from webapp.services.listing import ListQueryError
from webapp.services.users import create_user

BAD_JOB_FILTERS = (
    "status=melted",
    "queue=urgent",
    "sort=password",
    "sort=-arguments",
    "system=maybe",
    "source_id=abc",
    "batch_id=0",
    "since=yesterday",
    "order=sideways",
    "page=0",
    "cursor=-1",
)


def job(task="sample_job", status="completed", *, seconds=None, tags=(), **columns) -> int:
    """A job log as the recorder would leave it; ``seconds`` it ran for."""
    now = utcnow()
    row = JobLog(task=task, status=status, **columns)
    if seconds is not None:
        row.started_at, row.finished_at = now - timedelta(seconds=seconds), now
    db.session.add(row)
    db.session.flush()
    db.session.add_all(JobTag(job_id=row.id, tag=tag) for tag in tags)
    db.session.commit()
    return row.id


def shown(body: str) -> list[int]:
    """The job ids a page's table shows, in order."""
    return [int(n) for n in re.findall(r'<td><a href="/jobs/(\d+)">#', body)]


@pytest.mark.parametrize("query", BAD_JOB_FILTERS)
def test_a_bad_filter_is_a_400_in_words_on_page_api_and_bulk_alike(client, login, bearer, query):
    login("operator")
    waiting = job(status="pending")
    page = client.get(f"/jobs?{query}")
    name = query.split("=")[0]
    assert page.status_code == 400 and 'role="alert"' in text(page)
    said = text(page).split('role="alert"')[1][:400]
    assert JobFilters.LABELS.get(name, name) in said  # named as the page labels it
    api = client.get(f"/api/job-logs?{query}", headers=bearer("viewer"))
    assert api.status_code == 400, api.get_json()
    assert api.get_json()["error"]["message"]
    field, value = query.split("=")
    bulk = client.post("/jobs/bulk", data={"action": "cancel", "ids": [waiting], field: value})
    assert bulk.status_code == 400
    assert db.session.get(JobLog, waiting).status == "pending"  # nothing was done


def test_the_filter_object_checks_itself_however_it_is_built(runner):
    for bad in ({"status": "melted"}, {"queue": "urgent"}, {"sort": "arguments"}):
        with pytest.raises(JobQueryError):
            JobFilters(**bad)
    urgent = "Queue: Must be one of high, default, low, not 'urgent'"
    with pytest.raises(ListQueryError, match=urgent):
        FailedFilters.from_args({"queue": "urgent"})
    with pytest.raises(ListQueryError, match="state"):
        ScheduleFilter.from_args({"state": "maybe"})
    with pytest.raises(ListQueryError, match="format"):
        ExportFilter.from_args({"format": "doc"})
    refused = runner.invoke(args=["jobs", "list", "--sort", "password"])
    assert refused.exit_code == 2 and "password" in refused.output


@pytest.mark.parametrize(
    "url",
    [
        "/failed?queue=urgent",
        "/failed?since=soon",
        "/schedules?state=maybe",
        "/imports?status=melted",
        "/imports?importer=nothing",
        "/exports?format=doc",
        "/exports?dataset=passwords",
        "/integrations?state=maybe",
        "/integrations?service=ftp",
        "/series?sort=password",
        "/batches?page=0",
        "/batches?sort=name",
    ],
)
def test_every_list_refuses_a_value_it_does_not_offer(client, login, url):
    login("admin")
    response = client.get(url)
    assert response.status_code == 400, url
    assert "<html" in text(response) and "Traceback" not in text(response)


def test_bulk_acts_only_on_ticked_jobs_that_its_list_still_shows(client, login):
    login("operator")
    low = job(status="pending", queue="low")
    high = job(status="pending", queue="high")
    tick = job("check_integration_updates", status="pending", tags=("system",))
    response = client.post(
        "/jobs/bulk", data={"action": "cancel", "ids": [low, high, tick], "queue": "low"}
    )
    assert response.headers["Location"] == "/jobs?queue=low"
    page = text(client.get("/jobs?queue=low"))
    assert "Cancelled 1 of 1 selected job(s)." in page
    assert "2 ticked job(s) no longer match the filters and were left alone." in page
    statuses = [db.session.get(JobLog, i).status for i in (low, high, tick)]
    assert statuses == ["cancelled", "pending", "pending"]
    client.post("/jobs/bulk", data={"action": "cancel", "ids": [tick], "system": "1"})
    assert db.session.get(JobLog, tick).status == "cancelled"  # shown with the switch on


def test_bulk_retry_all_acts_exactly_on_the_filtered_failed_set(client, login):
    login("operator")
    low = [job("sample_job", "failed", queue="low", error="boom") for _ in range(3)]
    other = [job("sample_job", "failed", queue="default", error="boom") for _ in range(2)]
    page = text(client.get("/failed?queue=low"))
    assert "Retry all 3" in page and set(shown(page)) == set(low)
    client.post("/failed/retry", data={"all": "1", "queue": "low"})
    retried = set(db.session.scalars(select(JobLog.retry_of).where(JobLog.retry_of.is_not(None))))
    assert retried == set(low)
    assert not retried & set(other)
    bad = client.post("/failed/retry", data={"all": "1", "queue": "urgent"})
    assert bad.status_code == 400  # a filter it cannot use retries nothing, not everything
    assert len(db.session.scalars(select(JobLog.retry_of)).all()) == 5 + 3


def test_system_jobs_are_hidden_unless_asked_for(client, login, bearer, runner):
    login("viewer")
    mine = job("sample_job")
    tick = job("check_integration_updates", tags=("system",), message="Dispatched 0")
    hidden = text(client.get("/jobs"))
    assert shown(hidden) == [mine]
    assert 'name="system" value="1">' in hidden  # the switch, off
    switched = text(client.get("/jobs?system=1"))
    assert shown(switched) == [tick, mine] and 'name="system" value="1" checked' in switched
    by_task = text(client.get("/jobs?task=check_integration_updates", headers=HTMX))
    assert shown(by_task) == [tick]  # naming the task asks for it
    # the API lists every job unless told otherwise (as it did before the switch existed)
    api = client.get("/api/job-logs", headers=bearer("viewer")).get_json()
    assert [item["id"] for item in api["items"]] == [tick, mine]
    api = client.get("/api/job-logs?system=false", headers=bearer("viewer")).get_json()
    assert [item["id"] for item in api["items"]] == [mine]
    listed = json.loads(runner.invoke(args=["jobs", "list", "--json"]).output)
    assert [item["id"] for item in listed] == [mine]
    listed = json.loads(runner.invoke(args=["jobs", "list", "--system", "--json"]).output)
    assert [item["id"] for item in listed] == [tick, mine]
    dashboard = text(client.get("/"))
    assert f'href="/jobs/{mine}"' in dashboard and f'href="/jobs/{tick}"' not in dashboard


def test_jobs_sort_by_created_duration_and_status(client, login, bearer, app):
    login("viewer")
    slow = job(status="failed", seconds=30)
    quick = job(status="completed", seconds=1)
    waiting = job(status="pending")
    middle = job(status="cancelled", seconds=10)
    assert shown(text(client.get("/jobs"))) == [middle, waiting, quick, slow]
    assert shown(text(client.get("/jobs?sort=created"))) == [slow, quick, waiting, middle]
    by_duration = text(client.get("/jobs?sort=duration"))
    assert shown(by_duration) == [quick, middle, slow, waiting]  # no duration: last
    assert "Duration ↑" in by_duration and "sort=-duration" in by_duration
    assert shown(text(client.get("/jobs?sort=-duration"))) == [slow, middle, quick, waiting]
    by_status = shown(text(client.get("/jobs?sort=status")))
    assert by_status == [middle, quick, slow, waiting]  # cancelled, completed, failed, pending
    api = client.get("/api/job-logs?sort=-duration", headers=bearer("viewer")).get_json()
    assert [item["id"] for item in api["items"]] == [slow, middle, quick, waiting]
    assert api["next_cursor"] is None
    app.config["JOBS_PAGE_SIZE"] = 3
    first = text(client.get("/jobs?sort=-duration"))
    assert shown(first) == [slow, middle, quick] and "page=2" in first
    assert shown(text(client.get("/jobs?sort=-duration&page=2"))) == [waiting]
    api = client.get("/api/job-logs?sort=-duration&limit=3&page=2", headers=bearer("viewer"))
    assert [item["id"] for item in api.get_json()["items"]] == [waiting]


def count_queries(app):
    statements = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


def test_records_by_name_and_users_by_email_without_a_query_per_row(client, login, users, app):
    operator = users["operator"]
    simpsons = Series(name="The Simpsons", tvmaze_id=83)
    db.session.add(simpsons)
    db.session.commit()
    job(source_type="series", source_id=simpsons.id, user_id=operator.id, message="Updated")
    job(error="ValueError: no such series", status="failed")
    login("admin")
    page = text(client.get("/jobs"))
    assert ">The Simpsons</a>" in page and f"series {simpsons.id}</a>" not in page
    assert "operator@example.com" in page and "User 1" not in page
    assert "Updated" in page and "ValueError: no such series" in page  # the message column
    single = text(client.get(f"/jobs/{shown(page)[-1]}"))
    assert "The Simpsons" in single and "operator@example.com" in single

    def queries_for(rows: int) -> int:
        for i in range(rows):
            series = Series(name=f"Show {i}", tvmaze_id=1000 * rows + i)
            db.session.add(series)
            db.session.flush()
            job(source_type="series", source_id=series.id, user_id=operator.id)
        statements = count_queries(app)
        body = text(client.get("/jobs"))
        assert f"Show {rows - 1}" in body
        return len(statements)

    few = queries_for(2)
    many = queries_for(20)
    assert many == few  # the names of 20 rows cost what those of 2 cost


def test_two_operators_see_and_act_only_on_their_own_rows(client, users):
    first = users["operator"]
    second = create_user("second@example.com", PASSWORD, "operator")
    theirs = job(status="pending", user_id=second.id)
    mine = job(status="pending", user_id=first.id)
    nobodys = job(status="pending")
    client.post("/login", data={"email": "operator@example.com", "password": PASSWORD})
    page = text(client.get("/jobs"))
    assert set(shown(page)) == {mine, nobodys} and "second@example.com" not in page
    client.post("/jobs/bulk", data={"action": "cancel", "ids": [theirs, mine]})
    assert db.session.get(JobLog, theirs).status == "pending"
    assert db.session.get(JobLog, mine).status == "cancelled"
    client.post("/logout")
    client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    page = text(client.get("/jobs?sort=created"))
    assert shown(page) == [theirs, mine, nobodys] and "second@example.com" in page


def test_the_filter_form_is_rendered_from_the_url_of_its_table(client, login):
    login("viewer")
    failed = job(status="failed", error="step 3 broke")
    job(status="completed")
    url = "/jobs?status=failed&q=step&system=1&sort=-duration&order=oldest"
    page = text(client.get(url))
    form = page.split('class="filters"')[1].split("</form>")[0]
    assert 'hx-history="false"' in form and 'hx-push-url="true"' in form
    assert '<option value="failed" selected>' in form
    assert 'name="q" value="step"' in form and 'name="system" value="1" checked' in form
    assert 'name="sort" value="-duration"' in form
    assert '<option value="oldest" selected>' in form
    assert shown(page) == [failed]
    # the back button asks for the URL again; that request gets the whole page
    restored = text(client.get(url, headers={**HTMX, "HX-History-Restore-Request": "true"}))
    assert "<html" in restored and '<option value="failed" selected>' in restored
    fragment = text(client.get(url, headers=HTMX))
    assert fragment.lstrip().startswith('<section id="job_table"') and "<form class" not in fragment
