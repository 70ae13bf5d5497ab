"""One error path: a refused request reads the same through a page, the API and the CLI.

Pages answer with the error page in the layout and a way back, the API with the contract's
``{"error": {"code", "message"}}``, commands with one line on stderr and exit code 1.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from jobkit.pauses import PauseError
from tasks.samples import sample_job
from webapp.exceptions import Forbidden
from webapp.services import commands, exports, schedules
from webapp.services.files import FileRefused
from webapp.services.listing import ListingError
from webapp.services.series import SeriesNotFound


class Page(HTMLParser):
    """What a person sees of an HTML answer: title, navigation, heading, text and links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.title = self.h1 = ""
        self.has_nav = False
        self.links: dict[str, str] = {}  # link text -> href
        self.text: list[str] = []
        self._in: list[str] = []
        self._href: str | None = None
        self._link_text = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._in.append(tag)
        if tag == "nav":
            self.has_nav = True
        if tag == "a":
            self._href, self._link_text = dict(attrs).get("href"), ""

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links[self._link_text.strip()] = self._href
            self._href = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        where = self._in[-1] if self._in else ""
        if where == "title":
            self.title += data
        elif where == "h1":
            self.h1 += data
        if self._href is not None:
            self._link_text += data
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def error_page(response, status: int, message: str, back: str | None = None) -> Page:
    """Assert the answer is the error page, in the layout, saying ``message`` with a way back."""
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    assert page.has_nav and "Sign out" in page.all_text  # the layout, for a signed-in user
    assert page.title.startswith(f"Error {status}") and page.h1.strip() == str(status)
    assert message in page.all_text
    assert page.links["Back to the dashboard"] == "/"
    if back is None:
        assert "Back to the previous page" not in page.links
    else:
        assert page.links["Back to the previous page"] == back
    return page


NOT_THEIRS = "does not exist or belongs to another user (only its owner and admins can open it)"


def api_error(response, status: int, code: str, message: str) -> dict:
    """Assert the answer is the contract's JSON error, and nothing else."""
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"] == message
    return body["error"]


# -- pages -------------------------------------------------------------------------------------


def test_not_found_page_is_the_error_page_with_a_way_back(client, login):
    login("viewer")
    came_from = "http://localhost/series?q=lost"
    response = client.get("/series/999", headers={"Referer": came_from})
    error_page(response, 404, "series 999 not found", back=came_from)


def test_the_way_back_never_leads_off_the_site_or_to_the_same_page(client, login):
    login("viewer")
    elsewhere = client.get("/jobs/4242", headers={"Referer": "https://evil.example/jobs"})
    error_page(elsewhere, 404, "job #4242 does not exist or belongs to another user", back=None)
    itself = client.get("/jobs/4242", headers={"Referer": "http://localhost/jobs/4242"})
    error_page(itself, 404, "job #4242 does not exist or belongs to another user", back=None)


def test_forbidden_page(client, login):
    login("viewer")
    response = client.post("/failed/flush", headers={"Referer": "http://localhost/failed"})
    error_page(response, 403, "this needs the admin role", back="http://localhost/failed")


def test_conflict_page(client, login, users):
    login("operator")
    waiting = exports.start_export("series", "csv", {}, users["operator"].id)
    response = client.get(
        f"/exports/{waiting.id}/download", headers={"Referer": "http://localhost/exports"}
    )
    message = f"export {waiting.id} is pending; no file to download"
    error_page(response, 409, message, back="http://localhost/exports")


def test_a_bad_sort_is_a_400_page(client, login):
    login("viewer")
    response = client.get("/schedules?sort=password")
    error_page(response, 400, "sort must be one of", back=None)


def test_invalid_form_input_stays_on_the_form_next_to_its_field(client, login):
    login("operator")
    response = client.post(
        "/schedules/new",
        data={
            "name": "nightly",
            "command": "jobs prune",
            "parameters": "--days 30",
            "cron": "99 * * * *",
            "timezone": "UTC",
            "queue": "default",
        },
    )
    assert response.status_code == 422
    page = Page(response.get_data(as_text=True))
    assert page.has_nav and "Error 422" not in page.title  # the form again, not the error page
    assert "'99 * * * *' is not a valid cron expression" in page.all_text


def test_a_page_client_asking_for_json_gets_the_json_error(client, login):
    login("viewer")
    response = client.get("/series/999", headers={"Accept": "application/json"})
    api_error(response, 404, "not_found", "series 999 not found")


# -- the API -----------------------------------------------------------------------------------


def test_not_found_over_the_api(client, bearer):
    response = client.get("/api/job-logs/999999", headers=bearer("viewer"))
    api_error(response, 404, "not_found", f"job #999999 {NOT_THEIRS}")
    response = client.get("/api/job-logs/999999", headers=bearer("admin"))  # who sees them all
    api_error(response, 404, "not_found", "job #999999 was deleted or never existed")


def test_invalid_over_the_api(client, bearer):
    body = {
        "name": "nightly",
        "command": "jobs prune",
        "parameters": {"--days": "1"},
        "cron": "99 * * * *",
    }
    response = client.post("/api/schedules", json=body, headers=bearer("operator"))
    api_error(response, 422, "invalid", "cron: '99 * * * *' is not a valid cron expression")


def test_conflict_over_the_api(client, bearer):
    done = sample_job.dispatch(steps=1, step_seconds=0)
    response = client.post(f"/api/job-logs/{done}/cancel", headers=bearer("operator"))
    message = f"job {done} is completed; only pending or running jobs can be cancelled"
    api_error(response, 409, "conflict", message)


def test_forbidden_over_the_api(client, bearer):
    done = sample_job.dispatch(steps=1, step_seconds=0)
    response = client.post(f"/api/job-logs/{done}/cancel", headers=bearer("viewer"))
    api_error(response, 403, "forbidden", "this needs the operator role")


# -- the one handler, for errors that no route catches -----------------------------------------

RAISED = {
    "not_found": (SeriesNotFound("series 7 not found"), 404, "series 7 not found"),
    "invalid": (
        schedules.ScheduleError("'x' is not a valid cron expression", field="cron"),
        422,
        "cron: 'x' is not a valid cron expression",
    ),
    "conflict": (
        schedules.ScheduleNameTaken("a schedule called 'a' already exists", field="name"),
        409,
        "name: a schedule called 'a' already exists",
    ),
    "forbidden": (Forbidden("only the owner may do this"), 403, "only the owner may do this"),
    "bad_request": (ListingError("page must be a whole number from 1, not 'x'"), 400, None),
    "unknown queue": (PauseError("unknown queue 'urgent'"), 404, None),
    "refused file": (FileRefused("the file is empty"), 422, None),
}


@pytest.fixture
def raising(app):
    """A page route and an API route that raise whatever the test hands them."""
    raised: list[Exception] = []

    def raise_it():
        raise raised[0]

    app.add_url_rule("/api/raise", "api_raise", raise_it)
    app.add_url_rule("/raise", "page_raise", raise_it)
    return raised


@pytest.mark.parametrize("case", list(RAISED))
def test_every_service_error_is_rendered_once_for_api_and_page(raising, client, login, case):
    exc, status, shown = RAISED[case]
    shown = shown or exc.message
    raising.append(exc)
    error = api_error(client.get("/api/raise"), status, exc.code, shown)
    assert error.get("field") == exc.field
    login("viewer")
    error_page(client.get("/raise"), status, shown)


def test_a_refused_request_leaves_nothing_half_saved(client, app):
    from webapp.extensions import db
    from webapp.models.series import Series

    def add_then_refuse():
        db.session.add(Series(tvmaze_id=5))
        db.session.flush()
        raise SeriesNotFound("series 5 not found")

    app.add_url_rule("/api/add-then-refuse", "add_then_refuse", add_then_refuse)
    assert client.get("/api/add-then-refuse").status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(Series)) == 0


# -- the CLI -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, line",
    [
        (["jobs", "show", "4242"], "Error: job #4242 was deleted or never existed"),
        (
            ["users", "create", "--email", "nobody", "--password", "long-enough"],
            "Error: 'nobody' is not an e-mail address",
        ),
        (
            ["queue", "pause", "urgent"],
            "Error: unknown queue 'urgent'; use one of high, default, low",
        ),
        (["schedule", "test", "nope"], "Error: schedule nope not found"),
    ],
)
def test_a_command_says_what_is_wrong_in_one_line_and_exits_1(runner, args, line):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_a_conflict_in_a_command(runner, users):
    done = sample_job.dispatch(steps=1, step_seconds=0)
    result = runner.invoke(args=["jobs", "cancel", str(done)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: job {done} is completed; only pending or running jobs can be cancelled"
    ]


def test_the_real_flask_command_reports_the_same_way(app):
    """Through `flask --app wsgi …` in a child process, as a schedule runs it."""
    exit_code, output = commands.run_command("integrations fetch", {"--service": "nope"})
    assert exit_code == 1
    assert output.splitlines() == [
        "Error: unknown service 'nope'; use one of json_url, tvmaze_upcoming"
    ]
