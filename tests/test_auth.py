"""Signing in, roles on pages, CSRF, and the users commands."""

import re

from tests.conftest import PASSWORD, make_app
from webapp.extensions import db
from webapp.models.users import ApiToken, User
from webapp.services.users import create_user


def test_pages_send_strangers_to_the_login_page(client):
    for path in ("/", "/jobs", "/jobs/1", "/failed"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_and_out(client, users):
    page = client.get("/login")
    assert page.status_code == 200 and 'name="email"' in page.get_data(as_text=True)
    response = client.post(
        "/login?next=/jobs", data={"email": "viewer@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/jobs"
    assert client.get("/jobs").status_code == 200
    assert client.get("/logout").status_code == 405  # signing out changes state: POST only
    assert client.post("/logout").status_code == 302
    assert client.get("/jobs").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, users):
    response = client.post("/login", data={"email": "viewer@example.com", "password": "nope"})
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    empty = client.post("/login", data={"email": "", "password": ""})
    assert empty.status_code == 400


def test_sign_in_never_redirects_off_site(client, users):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil"):
        response = client.post(
            f"/login?next={target}", data={"email": "viewer@example.com", "password": PASSWORD}
        )
        assert response.headers["Location"] == "/"
        client.post("/logout")


def test_forms_need_a_csrf_token(tmp_path, monkeypatch, database):
    app = make_app(database, tmp_path, monkeypatch, WTF_CSRF_ENABLED=True)
    with app.app_context():
        create_user("v@example.com", PASSWORD)
    client = app.test_client()
    refused = client.post("/login", data={"email": "v@example.com", "password": PASSWORD})
    assert refused.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    accepted = client.post(
        "/login", data={"email": "v@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 302
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_users_create_and_token(runner, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Ops@Example.com",
            "--password",
            "longenough",
            "--role",
            "operator",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(email="ops@example.com").one()
    assert user.role == "operator" and user.password_hash != "longenough"

    duplicate = runner.invoke(
        args=["users", "create", "--email", "ops@example.com", "--password", "longenough"]
    )
    assert duplicate.exit_code == 1
    assert (
        duplicate.output.strip() == "Error: a user with the e-mail ops@example.com already exists"
    )
    short = runner.invoke(args=["users", "create", "--email", "a@b.c", "--password", "x"])
    assert short.exit_code == 1 and "at least 8" in short.output
    bad_role = runner.invoke(
        args=["users", "create", "--email", "a@b.c", "--password", "longenough", "--role", "king"]
    )
    assert bad_role.exit_code == 2

    token = runner.invoke(args=["users", "token", "ops@example.com"])
    assert token.exit_code == 0
    value = token.output.strip()
    assert value.startswith("jd_")
    assert db.session.query(ApiToken).one().token_hash != value
    client = app.test_client()
    assert (
        client.get("/api/queues", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    )
    unknown = runner.invoke(args=["users", "token", "nobody@example.com"])
    assert unknown.exit_code == 1


def test_first_admin_is_created_once(runner, monkeypatch):
    monkeypatch.delenv("JOBDECK_ADMIN_PASSWORD", raising=False)
    first = runner.invoke(args=["users", "ensure-admin"])
    assert first.exit_code == 0
    password = re.search(r"password: (\S+)", first.output).group(1)
    admin = db.session.query(User).one()
    assert admin.email == "admin@localhost" and admin.role == "admin"
    assert admin.check_password(password)
    second = runner.invoke(args=["users", "ensure-admin"])
    assert second.exit_code == 0 and second.output == ""


def test_first_admin_takes_the_password_from_the_environment(runner, client, monkeypatch):
    monkeypatch.setenv("JOBDECK_ADMIN_PASSWORD", "from-the-env")
    result = runner.invoke(args=["users", "ensure-admin"])
    assert result.exit_code == 0 and "from-the-env" not in result.output
    assert db.session.query(User).one().check_password("from-the-env")
    signed_in = client.post("/login", data={"email": "admin@localhost", "password": "from-the-env"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
