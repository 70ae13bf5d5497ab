"""User management for admins: the /users pages and `flask users list|disable|revoke-token`.
A disabled user's session and tokens stop working at their very next request."""

from __future__ import annotations

import getpass
import json
import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models.audit import AuditEntry
from webapp.models.users import ApiToken, User
from webapp.services.users import create_user, issue_token

CLI_ACTOR = f"cli:{getpass.getuser()}"


def rows(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def signed_in(app, email: str, password: str = PASSWORD):
    """A client of its own, signed in as ``email``."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_reach_the_users_pages(client, login, users, role):
    login(role)
    assert client.get("/users").status_code == 403
    assert client.get(f"/users/{users['viewer'].id}").status_code == 403
    assert client.post(f"/users/{users['viewer'].id}/disable").status_code == 403
    assert db.session.get(User, users["viewer"].id).active


def test_admin_lists_and_creates_users(client, login, users):
    login("admin")
    page = client.get("/users").get_data(as_text=True)
    for email in ("admin@example.com", "operator@example.com", "viewer@example.com"):
        assert email in page
    made = client.post(
        "/users", data={"email": "Ops2@Example.com", "password": PASSWORD, "role": "operator"}
    )
    user = db.session.scalar(select(User).where(User.email == "ops2@example.com"))
    assert made.headers["Location"] == f"/users/{user.id}" and user.role == "operator"
    [row] = rows("user.create")[-1:]
    assert (row.actor, row.channel, row.target_id) == ("admin@example.com", "page", str(user.id))
    refused = client.post("/users", data={"email": "x@example.com", "password": "short"})
    assert refused.status_code == 422 and "password" in refused.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "x@example.com")) is None


def test_changing_a_role_takes_effect_and_is_audited(app, client, login, users):
    viewer = signed_in(app, "viewer@example.com")
    pause = {"kind": "queue", "name": "low", "action": "pause"}
    assert viewer.post("/pause", data=pause).status_code == 403
    login("admin")
    client.post(f"/users/{users['viewer'].id}/role", data={"role": "operator"})
    assert viewer.post("/pause", data=pause).status_code == 302
    [row] = rows("user.update")
    assert row.changes == {"role": ["viewer", "operator"]} and row.actor == "admin@example.com"
    page = client.get(f"/users/{users['viewer'].id}").get_data(as_text=True)
    assert "user.update</code> by admin@example.com (page)" in page


def test_disabling_a_user_ends_their_session_and_token_at_once(app, client, login, users):
    second = create_user("operator2@example.com", PASSWORD, "operator")
    session = signed_in(app, "operator@example.com")
    token = {"Authorization": f"Bearer {issue_token(users['operator'])}"}
    other = signed_in(app, "operator2@example.com")
    assert session.get("/jobs").status_code == 200
    assert app.test_client().get("/api/queues", headers=token).status_code == 200

    login("admin")
    disabled = client.post(f"/users/{users['operator'].id}/disable")
    assert "is disabled" in client.get(disabled.headers["Location"]).get_data(as_text=True)

    assert session.get("/jobs").headers["Location"].startswith("/login")
    assert session.get("/api/queues").status_code == 401
    assert app.test_client().get("/api/queues", headers=token).status_code == 401
    refused = app.test_client().post(
        "/login", data={"email": "operator@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 401
    assert other.get("/jobs").status_code == 200  # the second operator is untouched
    [row] = rows("user.disable")
    assert (row.actor, row.target_id) == ("admin@example.com", str(users["operator"].id))
    assert second.active

    client.post(f"/users/{users['operator'].id}/enable")
    assert app.test_client().get("/api/queues", headers=token).status_code == 200
    assert rows("user.enable")[0].changes == {"active": [False, True]}


def test_disabling_from_the_cli(app, runner, users):
    token = {"Authorization": f"Bearer {issue_token(users['viewer'])}"}
    session = signed_in(app, "viewer@example.com")
    result = runner.invoke(args=["users", "disable", "viewer@example.com"])
    assert result.exit_code == 0 and result.output.strip() == "Disabled viewer@example.com."
    assert session.get("/").headers["Location"].startswith("/login")
    assert app.test_client().get("/api/queues", headers=token).status_code == 401
    [row] = rows("user.disable")
    assert (row.actor, row.channel) == (CLI_ACTOR, "cli")

    unknown = runner.invoke(args=["users", "disable", "nobody@example.com"])
    assert unknown.exit_code == 1 and unknown.output.strip() == "Error: no user nobody@example.com"


def test_the_last_admin_cannot_be_disabled_or_demoted(client, login, runner, users):
    login("admin")
    admin = users["admin"]
    assert client.post(f"/users/{admin.id}/disable").status_code == 409
    assert client.post(f"/users/{admin.id}/role", data={"role": "viewer"}).status_code == 409
    result = runner.invoke(args=["users", "disable", "admin@example.com"])
    assert result.exit_code == 1 and "last active admin" in result.output
    assert db.session.get(User, admin.id).active and rows("user.disable") == []


def test_resetting_a_password(app, client, login, users):
    login("admin")
    client.post(f"/users/{users['viewer'].id}/password", data={"password": "a-new-password"})
    old = app.test_client().post(
        "/login", data={"email": "viewer@example.com", "password": PASSWORD}
    )
    assert old.status_code == 401
    signed_in(app, "viewer@example.com", "a-new-password")
    [row] = rows("user.reset_password")
    assert row.target_id == str(users["viewer"].id) and row.changes is None  # never the password


def test_tokens_are_listed_made_and_revoked_on_the_page(app, client, login, users):
    viewer = users["viewer"]
    old = issue_token(viewer, "laptop")
    login("admin")
    made = client.post(f"/users/{viewer.id}/tokens", data={"name": "ci"})
    new = re.search(r'<code id="new-token">([^<]+)</code>', made.get_data(as_text=True)).group(1)
    page = client.get(f"/users/{viewer.id}").get_data(as_text=True)
    assert "laptop" in page and "ci" in page and new not in page  # shown only once
    api = app.test_client()
    assert api.get("/api/queues", headers={"Authorization": f"Bearer {new}"}).status_code == 200

    laptop = db.session.scalar(select(ApiToken).where(ApiToken.name == "laptop"))
    client.post(f"/users/{viewer.id}/tokens/{laptop.id}/revoke")
    assert api.get("/api/queues", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert api.get("/api/queues", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    [created] = [r for r in rows("token.create") if r.channel == "page"]
    [revoked] = rows("token.revoke")
    assert created.changes == {"user": "viewer@example.com", "name": "ci"}
    assert (revoked.actor, revoked.target_id) == ("admin@example.com", str(laptop.id))
    # A token id that is not this user's is not found.
    other = db.session.scalar(select(ApiToken).where(ApiToken.name == "ci"))
    assert client.post(f"/users/{users['admin'].id}/tokens/{other.id}/revoke").status_code == 404


def test_users_list_and_revoke_token_commands(app, runner, users):
    first = issue_token(users["operator"], "one")
    issue_token(users["operator"], "two")
    listed = json.loads(runner.invoke(args=["users", "list", "--json"]).output)
    operator = next(u for u in listed if u["email"] == "operator@example.com")
    assert operator["role"] == "operator" and operator["active"] is True
    assert sorted(t["name"] for t in operator["tokens"]) == ["one", "two"]
    table = runner.invoke(args=["users", "list"]).output.splitlines()
    assert table[0].split() == ["ID", "EMAIL", "ROLE", "STATE", "TOKENS"]
    assert any(
        line.split()[1:] == ["operator@example.com", "operator", "active", "2"] for line in table
    )

    one = next(t for t in operator["tokens"] if t["name"] == "one")
    result = runner.invoke(args=["users", "revoke-token", str(one["id"])])
    assert result.output.strip() == f"Revoked token {one['id']}."
    api = app.test_client()
    assert api.get("/api/queues", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    everything = runner.invoke(args=["users", "revoke-token", "operator@example.com"])
    assert everything.output.strip() == "Revoked 1 token(s) of operator@example.com."
    assert db.session.scalars(select(ApiToken)).all() == []
    assert [(r.actor, r.channel) for r in rows("token.revoke")] == [(CLI_ACTOR, "cli")] * 2
    missing = runner.invoke(args=["users", "revoke-token", "999"])
    assert missing.exit_code == 1 and missing.output.strip() == "Error: no token 999"


def test_creating_users_and_tokens_from_the_cli_is_audited(runner, app):
    runner.invoke(args=["users", "create", "--email", "a@example.com", "--password", PASSWORD])
    token = runner.invoke(args=["users", "token", "a@example.com"]).output.strip()
    assert token.startswith("jd_")
    assert [(r.action, r.actor, r.channel) for r in db.session.scalars(select(AuditEntry))] == [
        ("user.create", CLI_ACTOR, "cli"),
        ("token.create", CLI_ACTOR, "cli"),
    ]
