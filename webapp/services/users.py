"""Users, roles and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.exceptions import Conflict, Invalid
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.users import ApiToken, Role, User

ADMIN_EMAIL = "admin@localhost"
MIN_PASSWORD_LENGTH = 8


class UserError(Invalid):
    """A user request that cannot be carried out, with a message for the person."""


class UserExists(Conflict, UserError):
    """The e-mail address belongs to a user already."""


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, password: str, role: str = Role.VIEWER.value) -> User:
    """Add a user; UserError if the e-mail is taken, the role unknown or the password short."""
    email = _normalise_email(email)
    if "@" not in email:
        raise UserError(f"{email!r} is not an e-mail address")
    if role not in list(Role):
        raise UserError(f"unknown role {role!r}; use one of {', '.join(Role)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if user_by_email(email) is not None:
        raise UserExists(f"a user with the e-mail {email} already exists")
    user = User(email=email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == _normalise_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None; an unknown e-mail takes as
    long to refuse as a known one, so the clock does not tell which e-mails exist."""
    user = user_by_email(email)
    if user is None:
        check_password_hash(_dummy_password_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


@cache
def _dummy_password_hash() -> str:
    """A hash made the way real ones are, for unknown e-mails to be checked against."""
    return generate_password_hash(secrets.token_urlsafe(16))


def ensure_first_admin(password: str | None) -> str | None:
    """Create admin@localhost when there is no user at all.

    Returns the password when it was generated (to be shown once), else None.
    """
    if db.session.scalar(select(func.count()).select_from(User)):
        return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    create_user(ADMIN_EMAIL, password, Role.ADMIN.value)
    return generated


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str = "") -> str:
    """A new API token for ``user``; only its hash is stored, so this is the one time it is seen."""
    token = "jd_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), name=name))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The active user owning ``token``, or None; notes when the token was last used."""
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if api_token is None or not api_token.user.active:
        return None
    api_token.last_used_at = utcnow()
    db.session.commit()
    return api_token.user
