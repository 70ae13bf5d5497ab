"""Pages through the test client: whole, as htmx fragments, and boosted."""

from tasks.samples import sample_job
from webapp.extensions import db
from webapp.models.jobs import JobLog

HTMX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def test_dashboard_whole_fragment_and_boosted(client, login):
    login("viewer")
    sample_job.dispatch(steps=1, step_seconds=0)
    sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    whole = client.get("/")
    assert whole.status_code == 200
    assert "<html" in text(whole) and 'id="dashboard_live"' in text(whole)
    assert 'hx-trigger="every 3s"' in text(whole)
    assert "htmx-2.0.11.min.js" in text(whole)
    assert "HX-Request" in whole.headers["Vary"]

    fragment = client.get("/", headers=HTMX)
    body = text(fragment)
    assert "<html" not in body and body.lstrip().startswith('<section id="dashboard_live"')
    assert "sample_job" in body
    assert fragment.headers["Cache-Control"] == "no-store"
    assert "<html" in text(client.get("/", headers=BOOSTED))


def test_the_jobs_list_filters_and_pages(client, login, app):
    login("viewer")
    app.config["JOBS_PAGE_SIZE"] = 2
    done = [sample_job.dispatch(steps=1, step_seconds=0) for _ in range(3)]
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)

    first = text(client.get("/jobs"))
    assert f"#{failed}" in first and f"#{done[2]}" in first and f"#{done[1]}" not in first
    assert f"cursor={done[2]}" in first  # link to the older page
    second = text(client.get(f"/jobs?cursor={done[2]}", headers=HTMX))
    assert f"#{done[1]}" in second and f"#{done[0]}" in second and f"#{failed}" not in second
    assert second.lstrip().startswith('<section id="job_table"')

    filtered = text(client.get("/jobs?status=failed"))
    assert f"#{failed}" in filtered and f"#{done[0]}" not in filtered
    assert "No jobs match" in text(client.get("/jobs?task=nothing-like-this"))


def test_bad_filters_are_a_400_page(client, login):
    login("viewer")
    for query in ("status=melted", "queue=urgent", "source_id=abc", "cursor=-1"):
        response = client.get(f"/jobs?{query}")
        assert response.status_code == 400, query


def test_a_running_job_page_polls_and_a_finished_one_does_not(client, login):
    login("operator")
    pending = sample_job.dispatch(delay=3600)
    page = client.get(f"/jobs/{pending}")
    assert 'hx-trigger="every 1s"' in text(page)
    assert "Cancel" in text(page) and page.headers["Cache-Control"] == "no-store"
    fragment = text(client.get(f"/jobs/{pending}", headers=HTMX))
    assert fragment.lstrip().startswith('<section id="job_status"')

    done = sample_job.dispatch(steps=2, step_seconds=0)
    finished = text(client.get(f"/jobs/{done}"))
    assert "hx-trigger" not in finished.split('id="job_status"')[1]
    assert "Counted 2 steps." in finished


def test_a_failed_job_page_shows_the_traceback_and_retry(client, login):
    login("operator")
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    body = text(client.get(f"/jobs/{failed}"))
    assert "SampleJobFailure: failed at step 1 of 1, as asked" in body
    assert "Traceback (most recent call last)" in body
    response = client.post(f"/jobs/{failed}/retry")
    assert response.status_code == 302
    new_id = db.session.query(JobLog.id).filter(JobLog.retry_of == failed).scalar()
    assert response.headers["Location"] == f"/jobs/{new_id}"
    assert "Retried as" in text(client.get(f"/jobs/{failed}"))


def test_viewers_see_no_buttons_and_cannot_act(client, login):
    login("viewer")
    failed = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    body = text(client.get(f"/jobs/{failed}"))
    assert "/retry" not in body
    assert client.post(f"/jobs/{failed}/retry").status_code == 403
    assert client.post("/failed/flush").status_code == 403
    assert client.get("/jobs/987654").status_code == 404


def test_cancel_from_the_page(client, login):
    login("operator")
    pending = sample_job.dispatch(delay=3600)
    client.post(f"/jobs/{pending}/cancel")
    assert db.session.get(JobLog, pending).status == "cancelled"
    again = client.post(f"/jobs/{pending}/cancel", follow_redirects=True)
    assert "only pending or running jobs can be cancelled" in text(again)


def test_failed_list_retry_selected_retry_all_and_flush(client, login):
    login("admin")
    failures = [sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1) for _ in range(3)]
    body = text(client.get("/failed"))
    assert all(f"#{job_id}" in body for job_id in failures) and "Retry all 3" in body

    client.post("/failed/retry", data={"ids": [str(failures[0])]})
    body = text(client.get("/failed"))
    # the retry failed again (same arguments): a new failure replaces the old one on the list
    assert f"#{failures[0]}" not in body
    assert db.session.query(JobLog).filter(JobLog.retry_of == failures[0]).count() == 1

    client.post("/failed/retry", data={"all": "1"})  # the 3 on the list now
    assert db.session.query(JobLog).filter(JobLog.retry_of.in_(failures)).count() == 3
    assert 'data-confirm="Delete the 3 failed job record(s) this list shows?' in text(
        client.get("/failed")
    )
    response = client.post("/failed/flush", follow_redirects=True)
    assert "Deleted 3 failed job record(s)." in text(response)  # the 3 listed, not the 4 retried
    assert "No failed jobs." in text(client.get("/failed"))
    assert db.session.query(JobLog).filter_by(status="failed").count() == 4


def test_flush_deletes_what_the_list_and_dashboard_count_and_links_say_deleted(
    client, login, bearer
):
    login("admin")
    first, second = (sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1) for _ in "ab")
    client.post("/failed/retry", data={"ids": [str(first)]})  # its retry fails again
    retry = db.session.query(JobLog).filter(JobLog.retry_of == first).one().id
    counted = client.get("/api/queues", headers=bearer("viewer")).get_json()["failed"]
    listed = text(client.get("/failed"))
    assert counted == 2 and f"#{retry}" in listed and f"#{second}" in listed
    assert "Flush 2 failed record(s)" in listed
    assert f'<a href="/jobs/{retry}">#{retry}</a>' in text(client.get(f"/jobs/{first}"))

    client.post("/failed/flush")
    db.session.expire_all()
    assert db.session.get(JobLog, retry) is None and db.session.get(JobLog, second) is None
    assert db.session.get(JobLog, first).status == "failed"  # retried: not on the list, kept
    assert client.get("/api/queues", headers=bearer("viewer")).get_json()["failed"] == 0
    assert "No failed jobs." in text(client.get("/failed"))
    page = text(client.get(f"/jobs/{first}"))
    assert f'href="/jobs/{retry}"' not in page and f"#{retry} <small" in page
    assert "(deleted)" in page and ">Retry</button>" not in page
    gone = client.get(f"/jobs/{retry}")
    assert gone.status_code == 404 and f"job #{retry} was deleted or never existed" in text(gone)
    again = client.post(f"/api/job-logs/{first}/retry", headers=bearer("operator"))
    assert (
        again.status_code == 409
        and f"already retried as job {retry}" in (again.get_json()["error"]["message"])
    )


def test_flush_with_filters_deletes_only_what_the_filtered_list_shows(client, login):
    login("admin")
    low = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1, queue="low")
    high = sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1, queue="high")
    listed = text(client.get("/failed?queue=low"))
    assert "(with these filters)" in listed and "Flush 1 failed record(s)" in listed
    response = client.post("/failed/flush", data={"queue": "low"}, follow_redirects=True)
    assert "Deleted 1 failed job record(s)." in text(response)
    db.session.expire_all()
    assert db.session.get(JobLog, low) is None and db.session.get(JobLog, high) is not None


def test_the_sample_job_button(client, login):
    login("operator")
    response = client.post("/sample-job")
    assert response.status_code == 302
    job = db.session.query(JobLog).one()
    assert job.task == "sample_job" and job.status == "completed"
    assert response.headers["Location"] == f"/jobs/{job.id}"


def test_static_files_are_served_locally(client):
    assert client.get("/static/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/static/pico-2.1.1.min.css").status_code == 200


def test_the_dashboard_charts_throughput_per_minute_and_hour(client, login, app):
    from datetime import timedelta

    from webapp.models.base import utcnow
    from webapp.services.metrics import throughput

    login("viewer")
    earlier = [sample_job.dispatch(steps=1, step_seconds=0) for _ in range(3)]
    two_hours_ago = (utcnow() - timedelta(hours=2)).replace(minute=5, second=0, microsecond=0)
    for seconds, job_id in enumerate(earlier, start=1):  # different seconds, one hour
        db.session.get(JobLog, job_id).finished_at = two_hours_ago + timedelta(seconds=seconds)
    db.session.commit()
    sample_job.dispatch(steps=1, step_seconds=0)
    sample_job.dispatch(steps=1, step_seconds=0, fail_at_step=1)
    hour = throughput(hours=1, bucket_minutes=1)
    day = throughput(hours=24, bucket_minutes=60)
    assert len(hour) == 60 and len(day) == 24
    assert sum(b["completed"] for b in hour) == 1 and sum(b["failed"] for b in hour) == 1
    assert [b["completed"] for b in day if b["at"] == two_hours_ago.replace(minute=0)] == [3]
    assert sum(b["completed"] for b in day) == 4
    body = text(client.get("/", headers=HTMX))
    assert "Last hour, per minute" in body and body.count('class="bar-failed"') == 84
    assert "3 completed, 0 failed" in body
