"""Throttling of guesses: failed sign-ins per account and per address, failed API tokens per
address. Failures are rows in the database, so every web process counts the same ones."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from webapp.exceptions import ServiceError
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.users import LoginFailure


class Throttled(ServiceError):
    """Too many failures lately; ``retry_after`` says in how many seconds to try again."""

    status = 429
    code = "too_many_requests"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        )
        self.retry_after = retry_after


def login_keys(email: str, address: str | None) -> list[str]:
    """What a failed sign-in counts against: the account and the address it came from."""
    return [f"account:{email.strip().lower()[:250]}", f"address:{address or '?'}"]


def token_keys(address: str | None) -> list[str]:
    """What a failed API token counts against: the address it came from."""
    return [f"token-address:{address or '?'}"]


def _window() -> timedelta:
    return timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])


def check(keys: Iterable[str]) -> None:
    """Throttled when any key has had LOGIN_MAX_FAILURES failures within the window."""
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    now = utcnow()
    since = now - _window()
    rows = db.session.execute(
        select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
        .where(LoginFailure.key.in_(list(keys)), LoginFailure.at > since)
        .group_by(LoginFailure.key)
    ).all()
    waits = []
    for _key, count, oldest in rows:
        if count >= limit:
            # the oldest failure ages out of the window first, and with it one failure
            waits.append((oldest + _window() - now).total_seconds())
    if waits:
        raise Throttled(max(1, math.ceil(max(waits))))


def record_failure(keys: Iterable[str]) -> None:
    """Count one failure against each key; forget failures older than the window."""
    now = utcnow()
    keys = list(keys)
    db.session.add_all(LoginFailure(key=key, at=now) for key in keys)
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.at <= now - _window())
    )
    db.session.commit()


def forget(keys: Iterable[str]) -> None:
    """A successful sign-in clears its account's failures."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.key.in_(list(keys))))
    db.session.commit()
