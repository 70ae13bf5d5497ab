import os

import click
from flask.cli import AppGroup

from webapp.cli.output import echo_json, echo_table, json_option
from webapp.models.base import isoformat
from webapp.models.users import Role
from webapp.services.users import (
    ADMIN_EMAIL,
    UserError,
    create_user,
    disable_user,
    ensure_first_admin,
    get_user,
    issue_token,
    list_users,
    revoke_token,
    revoke_tokens_of,
    tokens_of,
    user_by_email,
)

users_cli = AppGroup("users", help="Manage users and API tokens.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.VIEWER.value)
def create(email: str, password: str, role: str) -> None:
    """Add a user."""
    user = create_user(email, password, role)
    click.echo(f"Created {user.email} ({user.role}).")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="", help="A label for the token.")
def token(email: str, name: str) -> None:
    """Print a new API token for EMAIL (it is shown only this once)."""
    user = user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with the e-mail {email}")
    click.echo(issue_token(user, name))


@users_cli.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Every user with their role, state and number of tokens."""
    users = list_users()
    rows = [
        {
            **user.to_dict(),
            "active": user.active,
            "created_at": isoformat(user.created_at),
            "tokens": [
                {
                    "id": t.id,
                    "name": t.name,
                    "created_at": isoformat(t.created_at),
                    "last_used_at": isoformat(t.last_used_at),
                }
                for t in tokens_of(user)
            ],
        }
        for user in users
    ]
    if as_json:
        echo_json(rows)
        return
    echo_table(
        ["ID", "EMAIL", "ROLE", "STATE", "TOKENS"],
        [
            (
                r["id"],
                r["email"],
                r["role"],
                "active" if r["active"] else "disabled",
                len(r["tokens"]),
            )
            for r in rows
        ],
    )


@users_cli.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable EMAIL: they cannot sign in, and their sessions and tokens stop working."""
    user = disable_user(get_user(email))
    click.echo(f"Disabled {user.email}.")


@users_cli.command("revoke-token")
@click.argument("target")
def revoke_token_command(target: str) -> None:
    """Revoke the token with id TARGET, or every token of the user with e-mail TARGET."""
    if target.isdigit():
        revoke_token(int(target))
        click.echo(f"Revoked token {target}.")
    else:
        user = get_user(target)
        click.echo(f"Revoked {revoke_tokens_of(user)} token(s) of {user.email}.")


@users_cli.command("ensure-admin")
def ensure_admin() -> None:
    """Create admin@localhost if there is no user yet (password: JOBDECK_ADMIN_PASSWORD)."""
    try:
        generated = ensure_first_admin(os.environ.get("JOBDECK_ADMIN_PASSWORD"))
    except UserError as exc:
        raise click.ClickException(f"JOBDECK_ADMIN_PASSWORD: {exc}") from None
    if generated:
        click.echo(f"Created {ADMIN_EMAIL} with the password: {generated}")
        click.echo("It is shown only this once.")
