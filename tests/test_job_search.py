"""Finding job logs: by words in their arguments, payload and error, by time, in either order;
acting on a selection of them; and every job linking to the record it worked for."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tasks.samples import sample_job
from tests.test_pages import HTMX, text
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.services import jobs as job_service
from webapp.services.jobs import JobFilters


def ids(filters: JobFilters, **kwargs) -> list[int]:
    return [job.id for job in job_service.list_jobs(filters, **kwargs)[0]]


@pytest.fixture
def finished(app):
    """Three completed sample jobs and one failed one, with searchable arguments and errors."""
    done = [sample_job.dispatch(steps=s, step_seconds=0) for s in (2, 3, 4)]
    failed = sample_job.dispatch(steps=7, step_seconds=0, fail_at_step=5)
    return done, failed


def test_search_finds_words_in_the_error_the_arguments_and_the_payload(finished):
    done, failed = finished
    assert ids(JobFilters(q="failed at step 5")) == [failed]
    assert ids(JobFilters(q="SampleJobFailure")) == [failed]
    assert ids(JobFilters(q="samplejobfail")) == [failed]  # any case; a word's start is enough
    assert set(ids(JobFilters(q="steps"))) == {*done, failed}  # every call's arguments
    assert ids(JobFilters(q="nothing like this")) == []
    assert ids(JobFilters(q="%_'\"*")) == []  # punctuation is text, not syntax
    assert ids(JobFilters(q="steps", status="failed")) == [failed]


def test_search_follows_changes_and_deletions(finished):
    done, failed = finished
    job = db.session.get(JobLog, done[0])
    job.error = "ReadTimeout talking to upstream"
    db.session.commit()
    assert ids(JobFilters(q="readtimeout")) == [done[0]]
    job_service.delete_finished_jobs([done[0]])
    assert ids(JobFilters(q="readtimeout")) == []


def test_time_filters_and_oldest_first_paging(app):
    made = [sample_job.dispatch(steps=1, step_seconds=0) for _ in range(5)]
    old = db.session.get(JobLog, made[0])
    old.created_at = utcnow() - timedelta(days=3)
    db.session.commit()
    assert ids(JobFilters(until=utcnow() - timedelta(days=1))) == [made[0]]
    assert made[0] not in ids(JobFilters(since=utcnow() - timedelta(days=1)))
    first, cursor = job_service.list_jobs(JobFilters(), limit=2, oldest_first=True)
    assert [j.id for j in first] == made[:2]
    second, _ = job_service.list_jobs(JobFilters(), limit=2, before_id=cursor, oldest_first=True)
    assert [j.id for j in second] == made[2:4]


def test_the_jobs_page_searches_and_keeps_its_filters_in_the_links(client, login, finished):
    _done, failed = finished
    login("viewer")
    body = text(client.get("/jobs?q=failed+at+step&order=oldest", headers=HTMX))
    assert f'href="/jobs/{failed}"' in body and body.count("<tr>") == 1 + 1  # head + one row
    assert "Retry selected" not in body  # a viewer cannot act
    bad = client.get("/jobs?since=yesterday")
    assert bad.status_code == 400 and "since" in text(bad)


def test_retry_and_cancel_selected_from_the_jobs_page(client, login, finished):
    done, failed = finished
    login("operator")
    page = text(client.get("/jobs"))
    assert "Retry selected" in page and 'data-select-all="ids"' in page
    response = client.post(
        "/jobs/bulk", data={"action": "retry", "ids": [failed, done[0]], "q": "steps"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/jobs?q=steps"
    page = text(client.get("/jobs"))
    assert "Retried 1 of 2 selected job(s)." in page
    assert f"job {done[0]} is completed; only failed or cancelled jobs can be retried" in page
    retry = db.session.scalar(select(JobLog).where(JobLog.retry_of == failed))
    assert retry is not None and retry.status == "failed"  # it ran again, and failed again
    response = client.post("/jobs/bulk", data={"action": "cancel", "ids": [done[1]]})
    assert "Cancelled 0 of 1" in text(client.get(response.headers["Location"]))
    assert client.post("/jobs/bulk", data={"action": "explode", "ids": [1]}).status_code == 400


def test_cancel_selected_pending_jobs(client, login):
    rows = [JobLog(task="sample_job", status="pending") for _ in range(3)]
    db.session.add_all(rows)
    db.session.commit()
    waiting = [row.id for row in rows]
    login("operator")
    client.post("/jobs/bulk", data={"action": "cancel", "ids": waiting[:2]})
    statuses = [db.session.get(JobLog, job_id).status for job_id in waiting]
    assert statuses == ["cancelled", "cancelled", "pending"]


def scheduled_job():
    """A schedule, a manual run of it and the job that run dispatched (and ran)."""
    from tasks.schedules import dispatch_run
    from webapp.services import schedule_runs
    from webapp.services import schedules as schedule_service

    schedule = schedule_service.create_schedule(
        {
            "name": "prune",
            "command": "jobs prune",
            "parameters": {"--days": "9"},
            "cron": "0 1 * * *",
        }
    )
    run = schedule_runs.manual_run(schedule)
    return schedule, run, dispatch_run(run)


def test_jobs_link_to_the_record_they_worked_for(client, login, app):
    schedule, _run, job_id = scheduled_job()
    login("viewer")
    link = f'href="/schedules/{schedule.id}"'
    assert link in text(client.get(f"/jobs/{job_id}"))
    assert link in text(client.get("/jobs"))
    assert f'href="/jobs/{job_id}"' in text(client.get(f"/schedules/{schedule.id}"))


def test_search_through_the_api(client, bearer, finished):
    _done, failed = finished
    got = client.get("/api/job-logs?q=SampleJobFailure", headers=bearer("viewer")).get_json()
    assert [item["id"] for item in got["items"]] == [failed]
    since = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    got = client.get(f"/api/job-logs?since={since}", headers=bearer("viewer")).get_json()
    assert got["items"] == []
    bad = client.get("/api/job-logs?since=soon", headers=bearer("viewer"))
    assert bad.status_code == 400 and bad.get_json()["error"]["code"]


def test_the_failed_list_pages_newest_first(client, login):
    rows = [JobLog(task="sample_job", status="failed", error=f"boom {i}") for i in range(105)]
    db.session.add_all(rows)
    db.session.commit()
    login("viewer")
    first = text(client.get("/failed"))
    assert first.count('name="ids"') == 100 and "105 failed job(s) match" in first
    assert f'href="/jobs/{rows[-1].id}"' in first and f'href="/jobs/{rows[4].id}"' not in first
    cursor = rows[5].id
    assert f"cursor={cursor}" in first
    second = text(client.get(f"/failed?cursor={cursor}", headers=HTMX))
    assert second.count('name="ids"') == 5 and "« Newest" in second
    assert client.get("/failed?cursor=abc").status_code == 400
