"""Shared column helpers."""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

# Table options for every table with an integer id. On SQLite a plain INTEGER PRIMARY KEY gives a
# new row max(id) + 1, so once the newest rows are deleted (a prune, a cleanup) their ids come
# back, and whatever still names them (Huey's revoke flags, retry_of, links, bookmarks, audit
# entries) would name a new record. AUTOINCREMENT never hands out an id twice. PostgreSQL's
# identity sequences never do either.
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and always read back timezone-aware UTC.

    SQLite has no time zones; storing naive UTC everywhere keeps SQLite and PostgreSQL identical.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def query_time(moment: datetime) -> str:
    """A filter's time in a query string: UTC with a ``Z`` when it knows its zone (so that a
    link means the same moment whoever opens it), a naive time (UTC) as it was given."""
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
