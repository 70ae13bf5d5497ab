"""Flask extensions, created bare and bound to the app in ``create_app``, and how the app uses
its SQLite connections."""

from __future__ import annotations

import logging
import sqlite3

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

log = logging.getLogger(__name__)

# Stable constraint names so that Alembic migrations are reproducible on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()

# How long one attempt to take SQLite's write lock waits for the connection holding it, and
# how many attempts a transaction makes before it gives up.
BUSY_TIMEOUT_MS = 10_000
WRITE_LOCK_ATTEMPTS = 3
# Statements that only read; anything else (INSERT, UPDATE, DELETE, SAVEPOINT, DDL, WITH …)
# may write and so starts the write transaction first.
_READ_ONLY_STATEMENTS = ("SELECT", "PRAGMA", "EXPLAIN")
BUSY_MESSAGE = "The database was busy and the change was not stored; try again."


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Let the web server and consumers share one SQLite file: WAL, and wait instead of failing.

    The driver is put in autocommit mode so that it never begins transactions itself;
    ``_take_write_lock`` begins them where a write is about to happen.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        # Takes effect only in a file with no tables yet (a new database): the pages a prune
        # frees can then be handed back to the file system (``PRAGMA incremental_vacuum``).
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        dbapi_connection.isolation_level = None


@event.listens_for(Engine, "before_cursor_execute")
def _take_write_lock(conn: Connection, cursor, statement: str, *_args) -> None:
    """On SQLite, a transaction's first statement that may write begins it with
    ``BEGIN IMMEDIATE``: the write lock is taken, waiting for it if need be, before anything is
    written, and held to the commit.

    SQLite's deferred ``BEGIN`` takes the lock only at the first write, and a transaction that
    has read by then cannot wait for it: if another connection committed meanwhile, the write
    fails at once with "database is locked", whatever the busy timeout. Here the statements
    before the first write read outside a transaction (each sees the latest commit, as in
    PostgreSQL's READ COMMITTED), so no transaction ever holds a stale snapshot, and none holds
    the lock while it only reads. A lock that stays taken past the busy timeout is waited for
    again, up to WRITE_LOCK_ATTEMPTS times in all; nothing has been written at that point, so
    trying again is always safe.
    """
    dbapi_connection = getattr(cursor, "connection", None)
    if not isinstance(dbapi_connection, sqlite3.Connection) or dbapi_connection.in_transaction:
        return
    if statement.lstrip()[:7].upper().startswith(_READ_ONLY_STATEMENTS):
        return
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    for attempt in range(1, WRITE_LOCK_ATTEMPTS + 1):
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or attempt == WRITE_LOCK_ATTEMPTS:
                raise
            log.warning(
                "waited %g s for SQLite's write lock to run %s…; waiting again (attempt %d of %d)",
                BUSY_TIMEOUT_MS / 1000,
                " ".join(statement.split()[:3]),
                attempt + 1,
                WRITE_LOCK_ATTEMPTS,
            )


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means another connection held a lock too long."""
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def database_error_message(exc: BaseException) -> str | None:
    """What a database error means for the person who sees it, without SQL or parameters;
    None for errors that are not the database's."""
    if not isinstance(exc, DBAPIError):
        return None
    if is_busy(exc):
        return BUSY_MESSAGE
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else ""
    if isinstance(exc, IntegrityError):
        return f"the database refused the record: {detail}"
    if isinstance(exc, OperationalError):
        return f"the database could not do it: {detail}"
    return f"database error: {detail}"
