"""Users, roles and API tokens: creating, changing, disabling, and signing in with them."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.exceptions import Conflict, Invalid, NotFound
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.users import ApiToken, Role, User
from webapp.services import audit

ADMIN_EMAIL = "admin@localhost"
MIN_PASSWORD_LENGTH = 8


class UserError(Invalid):
    """A user request that cannot be carried out, with a message for the person."""


class UserExists(Conflict, UserError):
    """The e-mail address belongs to a user already."""


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def _check_role(role: str) -> None:
    if role not in list(Role):
        raise UserError(f"unknown role {role!r}; use one of {', '.join(Role)}")


def create_user(email: str, password: str, role: str = Role.VIEWER.value) -> User:
    """Add a user; UserError if the e-mail is taken, the role unknown or the password short."""
    email = _normalise_email(email)
    if "@" not in email:
        raise UserError(f"{email!r} is not an e-mail address")
    _check_role(role)
    _check_password(password)
    if user_by_email(email) is not None:
        raise UserExists(f"a user with the e-mail {email} already exists")
    user = User(email=email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", ("user", user.id), changes={"email": email, "role": role})
    db.session.commit()
    return user


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == _normalise_email(email)))


def get_user(ref: int | str) -> User:
    """The user with this id or e-mail; NotFound when there is none."""
    user = (
        db.session.get(User, int(ref))
        if isinstance(ref, int) or str(ref).isdigit()
        else user_by_email(str(ref))
    )
    if user is None:
        raise NotFound(f"no user {ref}")
    return user


def list_users() -> list[User]:
    """Every user, by e-mail."""
    return list(db.session.scalars(select(User).order_by(User.email)))


def _other_active_admins(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)
    )


def update_user(user: User, *, role: str | None = None, active: bool | None = None) -> User:
    """Change a user's role or whether they may sign in; one audit row for the change
    (``user.disable`` / ``user.enable`` when only that changes, else ``user.update``).

    A disabled user's sessions and tokens stop working at their next request: the session
    and token loaders refuse inactive users. The last active admin cannot be demoted or
    disabled (Conflict), so that someone can always manage users.
    """
    before = {"role": user.role, "active": user.active}
    if role is not None:
        _check_role(role)
    after = {
        "role": role if role is not None else user.role,
        "active": active if active is not None else user.active,
    }
    changes = audit.diff(before, after)
    if not changes:
        return user
    losing_admin = (
        user.is_admin and user.active and (after["role"] != Role.ADMIN or not after["active"])
    )
    if losing_admin and not _other_active_admins(user):
        raise Conflict(f"{user.email} is the last active admin; make another admin first")
    user.role, user.active = after["role"], after["active"]
    if set(changes) == {"active"}:
        action = "user.enable" if user.active else "user.disable"
    else:
        action = "user.update"
    audit.record(action, ("user", user.id), changes=changes)
    db.session.commit()
    return user


def disable_user(user: User) -> User:
    """Stop ``user`` from signing in; their open sessions and tokens stop working at once."""
    return update_user(user, active=False)


def reset_password(user: User, password: str) -> User:
    """Give ``user`` a new password (the old one stops working)."""
    _check_password(password)
    user.set_password(password)
    audit.record("user.reset_password", ("user", user.id))
    db.session.commit()
    return user


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
    api_token = ApiToken(user_id=user.id, token_hash=_hash_token(token), name=name)
    db.session.add(api_token)
    db.session.flush()
    audit.record(
        "token.create", ("token", api_token.id), changes={"user": user.email, "name": name}
    )
    db.session.commit()
    return token


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def revoke_token(token_id: int) -> ApiToken:
    """Delete the token ``token_id``: requests with it are refused from now on."""
    api_token = db.session.get(ApiToken, token_id)
    if api_token is None:
        raise NotFound(f"no token {token_id}")
    audit.record(
        "token.revoke",
        ("token", api_token.id),
        changes={"user": api_token.user.email, "name": api_token.name},
    )
    db.session.delete(api_token)
    db.session.commit()
    return api_token


def revoke_tokens_of(user: User) -> int:
    """Delete every token of ``user``; one audit row per token. Returns how many."""
    tokens = tokens_of(user)
    for api_token in tokens:
        audit.record(
            "token.revoke",
            ("token", api_token.id),
            changes={"user": user.email, "name": api_token.name},
        )
        db.session.delete(api_token)
    db.session.commit()
    return len(tokens)


def user_for_token(token: str) -> User | None:
    """The active user owning ``token``, or None; notes when the token was last used."""
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if api_token is None or not api_token.user.active:
        return None
    api_token.last_used_at = utcnow()
    db.session.commit()
    return api_token.user
