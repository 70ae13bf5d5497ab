import os

import click
from flask.cli import AppGroup

from webapp.models.users import Role
from webapp.services.users import (
    ADMIN_EMAIL,
    UserError,
    create_user,
    ensure_first_admin,
    issue_token,
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
