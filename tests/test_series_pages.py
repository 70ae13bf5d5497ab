"""The /series and /integrations pages, and `flask demo`."""

import re

from sqlalchemy import func, select

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models.integrations import Integration
from webapp.models.jobs import JobLog
from webapp.models.series import Series
from webapp.services import integrations as integration_service
from webapp.services.users import create_user

HTMX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def test_add_a_series_from_the_page_and_watch_it_import(client, login, fake_tvmaze):
    fake_tvmaze.add_show(82, "Game of Thrones", episodes=3)
    login("operator")
    response = client.post("/series", data={"id_type": "tvmaze", "show_id": "82"})
    series = db.session.scalars(select(Series)).one()
    assert response.status_code == 302 and response.headers["Location"] == f"/series/{series.id}"
    page = text(client.get(f"/series/{series.id}"))
    assert "Game of Thrones" in page and "S01E03" in page and "synced" in page
    assert "import_series_data" in page  # the jobs for this record
    listing = text(client.get("/series"))
    assert "fresh" in listing and "completed" in listing and "Refresh now" in listing


def test_series_form_errors_and_search(client, login, fake_tvmaze):
    login("operator")
    bad = client.post("/series", data={"id_type": "tvmaze", "show_id": "zero"})
    assert bad.status_code == 422
    client.post("/series", data={"id_type": "tvdb", "show_id": "4242"})
    duplicate = client.post("/series", data={"id_type": "tvdb", "show_id": "4242"})
    assert duplicate.status_code == 422 and "already there" in text(duplicate)
    assert db.session.query(Series).count() == 1
    found = text(client.get("/series?q=4242", headers=HTMX))
    assert found.lstrip().startswith('<section id="series_table"') and "TheTVDB show 4242" in found
    assert "No series match" in text(client.get("/series?q=nothing"))
    assert client.get("/series/999").status_code == 404
    assert client.get("/series?page=abc").status_code == 400
    assert client.get("/series?sort=summary").status_code == 400


def test_refresh_now_and_viewer_limits(client, login, fake_tvmaze):
    fake_tvmaze.add_show(1, "One")
    login("operator")
    client.post("/series", data={"id_type": "tvmaze", "show_id": "1"})
    series_id = db.session.scalar(select(Series.id))
    client.post(f"/series/{series_id}/refresh")
    assert db.session.query(JobLog).filter_by(source_type="series").count() == 2
    client.post("/logout")
    login("viewer")
    assert "Refresh now" not in text(client.get("/series"))
    assert client.post(f"/series/{series_id}/refresh").status_code == 403
    assert client.post("/series", data={"id_type": "tvmaze", "show_id": "2"}).status_code == 403


def test_each_user_sees_and_manages_only_their_own_integrations(client, login, users, fake_tvmaze):
    fake_tvmaze.add_show(83, "The Simpsons")
    theirs = integration_service.create_integration(
        users["admin"].id, "tvmaze_upcoming", "Admin's", {"tvmaze_id": 83}, 60
    )
    login("operator")  # viewers read integrations, never create or change them
    created = client.post(
        "/integrations",
        data={
            "service": "tvmaze_upcoming",
            "name": "Mine",
            "update_frequency_minutes": "30",
            "tvmaze_id": "83",
        },
    )
    mine = db.session.scalars(select(Integration).where(Integration.name == "Mine")).one()
    assert created.headers["Location"] == f"/integrations/{mine.id}"
    listing = text(client.get("/integrations"))
    assert "Mine" in listing and "Admin&#39;s" not in listing and "Admin's" not in listing
    for path in (f"/integrations/{theirs.id}",):
        assert client.get(path).status_code == 404
    for action in ("fetch", "toggle", "delete"):
        assert client.post(f"/integrations/{theirs.id}/{action}").status_code == 404
    assert db.session.get(Integration, theirs.id).active

    client.post(f"/integrations/{mine.id}/fetch")
    page = text(client.get(f"/integrations/{mine.id}"))
    assert "up to date" in page and "The Simpsons" in page and "process_integration_data" in page
    client.post(f"/integrations/{mine.id}/toggle")
    assert "paused" in text(client.get("/integrations"))
    client.post(f"/integrations/{mine.id}/delete")
    assert db.session.get(Integration, mine.id) is None


def test_integration_form_errors(client, login):
    login("operator")
    bad_url = client.post(
        "/integrations",
        data={"service": "json_url", "update_frequency_minutes": "5", "url": "not a url"},
    )
    assert bad_url.status_code == 422 and "url: an http" in text(bad_url)
    bad_service = client.post(
        "/integrations", data={"service": "gopher", "update_frequency_minutes": "5"}
    )
    assert bad_service.status_code == 422
    assert db.session.query(Integration).count() == 0


def test_demo_adds_series_and_an_integration_once(runner, users, fake_tvmaze):
    for show_id, name in (
        (83, "The Simpsons"),
        (82, "Game of Thrones"),
        (169, "Breaking Bad"),
        (526, "The Office"),
        (335, "Sherlock"),
    ):
        fake_tvmaze.add_show(show_id, name)
    result = runner.invoke(args=["demo"])
    assert "Added 5 series and dispatched 5 data jobs." in result.output
    assert "Added the integration 'Upcoming The Simpsons' for admin@example.com." in result.output
    assert db.session.query(Series).filter(Series.name.isnot(None)).count() == 5
    assert runner.invoke(args=["demo", "--first-run"]).output == ""
    assert db.session.query(Integration).count() == 1


def test_demo_without_tvmaze_fails_visibly_not_a_crash(runner, users, app):
    app.config["TVMAZE_URL"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop("tvmaze", None)
    result = runner.invoke(args=["demo", "--first-run"])
    assert result.exit_code == 0
    jobs = db.session.scalars(select(JobLog)).all()
    assert len(jobs) == 5 and {j.status for j in jobs} == {"failed"}
    assert all("TVmaze cannot be reached" in j.error for j in jobs)
    assert {j.attempts for j in jobs} == {3}


def test_an_episode_page_shows_the_jobs_that_worked_for_it(client, login, fake_tvmaze):
    from tasks.series import import_episode_data
    from webapp.models.series import Episode

    fake_tvmaze.add_show(82, "Game of Thrones", episodes=2)
    login("operator")
    client.post("/series", data={"id_type": "tvmaze", "show_id": "82"})
    episode = db.session.scalars(select(Episode).order_by(Episode.id)).first()
    job_id = import_episode_data.dispatch(episode.id, source=("episode", episode.id))
    page = text(client.get(f"/series/{episode.series_id}/episodes/{episode.id}"))
    assert "S01E01" in page and f'href="/jobs/{job_id}"' in page and "synced" in page
    job_page = text(client.get(f"/jobs/{job_id}"))
    assert f'href="/series/episodes/{episode.id}"' in job_page  # the job links back
    back = client.get(f"/series/episodes/{episode.id}")
    assert back.headers["Location"] == f"/series/{episode.series_id}/episodes/{episode.id}"
    assert client.get(f"/series/{episode.series_id}/episodes/999").status_code == 404
    assert client.get(f"/series/{episode.series_id + 1}/episodes/{episode.id}").status_code == 404


def signed_in(app, email: str, role: str):
    """A test client of ``app`` signed in as a new user."""
    user = create_user(email, PASSWORD, role)
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return user, client


def flashes(client, url: str) -> list[str]:
    html = text(client.get(url))
    return re.findall(r'<p class="flash flash-\w+" role="status">(.*?)</p>', html)


def test_refresh_now_on_a_series_already_queued_says_so_and_links_its_job(queued):
    _, client = signed_in(queued, "op@example.com", "operator")
    series = Series(name="The Simpsons", tvmaze_id=83)
    db.session.add(series)
    db.session.commit()
    client.post(f"/series/{series.id}/refresh")  # queued: it waits, no consumer runs
    assert flashes(client, "/series") == ["Refreshing The Simpsons (job 1)."]
    [job_id] = db.session.scalars(select(JobLog.id).where(JobLog.source_type == "series"))
    again = client.post(f"/series/{series.id}/refresh", headers={"Referer": "/series"})
    assert again.status_code == 302
    assert flashes(client, "/series") == [
        f'The Simpsons already has a job queued: <a href="/jobs/{job_id}">job #{job_id}</a>.'
    ]
    assert db.session.scalar(select(func.count()).select_from(JobLog)) == 1
    # another operator is told of the job, which is not theirs to open
    _, other = signed_in(queued, "other@example.com", "operator")
    other.post(f"/series/{series.id}/refresh")
    assert flashes(other, f"/series/{series.id}") == [
        f"The Simpsons already has a job queued (job #{job_id}, another user's)."
    ]


def test_update_now_on_an_integration_already_queued_says_so_and_links_its_job(queued):
    owner, client = signed_in(queued, "op@example.com", "operator")
    integration = integration_service.create_integration(
        owner.id, "tvmaze_upcoming", "Upcoming", {"tvmaze_id": "82"}, 60
    )
    client.post(f"/integrations/{integration.id}/fetch")
    assert flashes(client, "/integrations") == ["Updating Upcoming now."]
    [job_id] = db.session.scalars(select(JobLog.id).where(JobLog.source_type == "integration"))
    client.post(f"/integrations/{integration.id}/fetch")
    assert flashes(client, f"/integrations/{integration.id}") == [
        f'Upcoming already has a job queued: <a href="/jobs/{job_id}">job #{job_id}</a>.'
    ]
    assert db.session.scalar(select(func.count()).select_from(JobLog)) == 1


def test_a_viewer_is_not_invited_to_use_forms_they_are_not_shown(client, login):
    login("viewer")
    for url, invitation in (
        ("/exports", "Pick a dataset"),
        ("/imports", "Upload a file"),
        ("/integrations", "Add one above"),
    ):
        page = text(client.get(url))
        assert "No " in page or "no " in page, url
        assert invitation not in page and '<form method="post">' not in page, url
    client.post("/logout")
    login("operator")
    assert "Pick a dataset and a format above." in text(client.get("/exports"))
    assert "Upload a file above." in text(client.get("/imports"))


def test_every_page_has_the_favicon(client, login):
    assert 'rel="icon"' in text(client.get("/login"))
    login("viewer")
    page = text(client.get("/"))
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert b"<svg" in icon.data
