"""Why jobs wait, where people look: the jobs list's row tooltip (read for the whole page in a
few statements), the dashboard's counts by reason, per-queue running counts and wait times, and
what a retrying or many-times-failed job shows instead of a running duration."""

import re
from contextlib import contextmanager
from datetime import timedelta
from html.parser import HTMLParser

from sqlalchemy import event, select

from jobkit import pauses
from tests.test_waiting import job
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog
from webapp.services import consumers
from webapp.services.waiting import jobs_ahead, waiting_reasons


class Rows(HTMLParser):
    """Each table row's cells: their text and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[dict]] = []
        self.cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag == "td" and self.rows:
            self.cell = {"attrs": dict(attrs), "text": ""}
            self.rows[-1].append(self.cell)

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def rows_of(html: str) -> dict[int, list[dict]]:
    """The job rows of a page, by job id (the first cell's "#id")."""
    parser = Rows()
    parser.feed(html)
    found = {}
    for cells in parser.rows:
        for cell in cells[:2]:
            if match := re.fullmatch(r"\s*#(\d+)\s*", cell["text"]):
                found[int(match[1])] = cells
    return found


def fresh(jobs: list[JobLog]) -> list[JobLog]:
    """The jobs loaded again in one query, as a page loads them (not expired one by one)."""
    ids = [one.id for one in jobs]
    loaded = {one.id: one for one in db.session.scalars(select(JobLog).where(JobLog.id.in_(ids)))}
    return [loaded[i] for i in ids]


@contextmanager
def statements():
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_a_pending_row_says_why_it_waits_in_its_tooltip(client, login, app):
    login("viewer")
    consumers.register("host:1", 1, 4)
    retrying = job(next_attempt_at=utcnow() + timedelta(minutes=5), attempts=1, max_attempts=3)
    pauses.pause("task", "sample_job")
    paused = job(task="sample_job")
    first, second = job(task="other"), job(task="other")
    done = job(status="completed")
    rows = rows_of(client.get("/jobs").get_data(as_text=True))
    status = {job_id: cells[3]["attrs"] for job_id, cells in rows.items()}
    assert status[retrying.id]["data-waiting-reason"] == "retry"
    assert "attempt 2 of 3" in status[retrying.id]["title"]
    assert "the task sample_job was paused" in status[paused.id]["title"]
    assert status[first.id]["title"].startswith("Next in line")
    assert status[second.id]["title"] == "1 job is ahead of it in the queues."
    assert "title" not in status[done.id]


def test_the_rows_reasons_cost_the_same_statements_for_5_or_50_jobs(client, login, app):
    login("viewer")
    consumers.register("host:1", 1, 4)
    few = fresh([job() for _ in range(5)])
    with statements() as seen:
        reasons = waiting_reasons(few)
    assert len(reasons) == 5
    baseline = len(seen)
    many = fresh(few + [job(queue=("high", "default", "low")[i % 3]) for i in range(45)])
    with statements() as seen:
        reasons = waiting_reasons(many)
    assert len(reasons) == 50 and len(seen) == baseline
    # and the batch says what one job at a time would
    for one in many[::7]:
        assert reasons[one.id].message == waiting_reasons([one])[one.id].message
        ahead = jobs_ahead(one)
        said = f"{ahead} job" if ahead else "Next in line"
        assert reasons[one.id].message.startswith(said)

    with statements() as seen:
        page = client.get("/jobs")
    assert (
        page.status_code == 200 and page.get_data(as_text=True).count("data-waiting-reason") == 50
    )
    assert len(seen) < 30, seen


def test_the_dashboard_counts_waiting_jobs_by_reason(client, login, app):
    login("viewer")
    page = client.get("/").get_data(as_text=True)
    assert "nothing waits." in page
    job(next_attempt_at=utcnow() + timedelta(minutes=1), attempts=1)  # a retry
    job(next_attempt_at=utcnow() + timedelta(minutes=1))  # dispatched with a delay
    pauses.pause("queue", "low")
    job(queue="low")
    job(queue="low")
    job()
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'data-reason="retry">1 retry wait<', page)
    assert re.search(r'data-reason="scheduled">1 scheduled for later<', page)
    assert re.search(r'data-reason="paused">2 paused queue or task<', page)
    assert re.search(r'data-reason="no_consumer">1 no consumer alive<', page)
    consumers.register("host:1", 1, 1)
    job(status="running", started_at=utcnow())
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'data-reason="busy">1 all workers busy<', page)
    assert "no consumer alive" not in page


def test_a_viewer_counts_only_the_waiting_jobs_they_may_see(client, login, users, app):
    job(user_id=users["operator"].id)
    job(user_id=users["viewer"].id)
    login("viewer")
    assert 'data-reason="no_consumer">1 no consumer' in client.get("/").get_data(as_text=True)


def test_the_dashboard_shows_running_per_queue_and_wait_times(client, login, app):
    login("viewer")
    now = utcnow()
    for queue in ("high", "high", "low"):
        job(queue=queue, status="running", started_at=now)
    for wait in (1, 2, 3, 4, 100):
        job(
            status="completed",
            attempts=1,
            created_at=now - timedelta(seconds=wait + 10),
            started_at=now - timedelta(seconds=10),
            finished_at=now - timedelta(seconds=5),
        )
    html = client.get("/").get_data(as_text=True)
    queues = {cells[0]["text"].split()[0]: cells for cells in queue_rows(html)}
    assert [c["text"] for c in queues["high"][1:3]] == ["0", "2"]
    assert [c["text"] for c in queues["default"][1:3]] == ["0", "0"]
    assert [c["text"] for c in queues["low"][1:3]] == ["0", "1"]
    last_hour = re.search(r'id="last-hour">(.*?)</p>', html, re.S)[1]
    assert (
        "p50 <strong>3.0 s</strong>" in last_hour and "p95 <strong>1 min 40 s</strong>" in last_hour
    )
    assert "(5 first attempts)" in last_hour


def queue_rows(html: str) -> list[list[dict]]:
    parser = Rows()
    parser.feed(html[html.index("<strong>Queues</strong>") :])
    return [cells for cells in parser.rows if len(cells) == 4][:5]


def test_a_job_waiting_to_retry_shows_the_time_until_its_next_attempt(client, login, app):
    login("viewer")
    started = utcnow() - timedelta(minutes=10)  # its first attempt's start: no duration to grow
    waiting = job(
        attempts=1,
        max_attempts=3,
        started_at=started,
        next_attempt_at=utcnow() + timedelta(minutes=4, seconds=30),
    )
    row = rows_of(client.get("/jobs").get_data(as_text=True))[waiting.id]
    assert re.fullmatch(r"retry in 4 min (29|30) s", row[-1]["text"].strip())
    page = client.get(f"/jobs/{waiting.id}").get_data(as_text=True)
    assert re.search(
        r"<dt>Next attempt</dt><dd><span[^>]*data-countdown-to=[^>]*>retry in 4 min", page
    )
    assert "10 min" not in page.split("<dt>Next attempt</dt>")[1].split("</dd>")[0]
    waiting.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    row = rows_of(client.get("/jobs").get_data(as_text=True))[waiting.id]
    assert row[-1]["text"].strip() == "retry due"


def test_a_job_failed_after_attempts_shows_total_and_last_attempt(client, login, app):
    login("viewer")
    end = utcnow()
    failed = job(
        status="failed",
        attempts=3,
        max_attempts=3,
        created_at=end - timedelta(minutes=5),
        started_at=end - timedelta(seconds=2),
        finished_at=end,
    )
    once = job(status="failed", attempts=1, started_at=end - timedelta(seconds=2), finished_at=end)
    rows = rows_of(client.get("/jobs").get_data(as_text=True))
    assert rows[failed.id][-1]["text"].strip() == "5 min 0 s total · last 2.0 s"
    assert rows[once.id][-1]["text"].strip() == "2.0 s"
    page = client.get(f"/jobs/{failed.id}").get_data(as_text=True)
    assert "5 min 0 s in total from queued to failed, over 3 attempts · last attempt 2.0 s" in page


def test_a_running_job_shows_a_duration_that_ticks_in_the_browser(client, login, app):
    login("viewer")
    running = job(status="running", attempts=1, started_at=utcnow() - timedelta(seconds=30))
    row = rows_of(client.get("/jobs").get_data(as_text=True))[running.id]
    assert re.fullmatch(r"3\d\.\d s", row[-1]["text"].strip())
    assert 'data-elapsed-since="' in client.get(f"/jobs/{running.id}").get_data(as_text=True)
