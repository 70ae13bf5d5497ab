"""The SQL that writes batches of job-state changes, ``write_changes``, and the events a
consumer's recorder buffers, ``write_events``: both called by the recorder in-process and by the
consumer's writer process alike.

An event is a tuple, the first two items its kind and its job's id:

- ``(SET, job_id, {column: value})``: any columns;
- ``(STARTED, job_id, attempt, at, worker, consumer_id)``: a run began (``at``: ``time.time()``);
- ``(COMPLETED, job_id, at, message)``: a run ended well (``message`` None: left as it was).

The two a run always has are tuples of plain values rather than column mappings with datetimes:
a worker thread makes them for a fraction of the cost, and the consumer pickles them for less
(its GIL is what its workers wait for); the writer process turns them into columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.engine import Engine

from webapp.models.base import UTCDateTime
from webapp.models.jobs import JobLog, JobStatus

table = JobLog.__table__
SET, STARTED, COMPLETED = 0, 1, 2
RUNNING, DONE = JobStatus.RUNNING.value, JobStatus.COMPLETED.value


def event_values(event: tuple) -> dict[str, Any]:
    """The column values one event sets."""
    kind = event[0]
    if kind == STARTED:
        _, _, attempt, at, worker, consumer_id = event
        values = {
            "status": RUNNING,
            "attempts": attempt,
            "started_at": datetime.fromtimestamp(at, UTC),
            "worker": worker,
            "consumer_id": consumer_id,
        }
        if attempt > 1:  # only a retry has a previous attempt's times to clear
            values |= {"finished_at": None, "next_attempt_at": None}
        return values
    if kind == COMPLETED:
        _, _, at, message = event
        values = {"status": DONE, "progress": 100, "finished_at": datetime.fromtimestamp(at, UTC)}
        if message is not None:
            values["message"] = message
        return values
    return dict(event[2])


def coalesce(events: Iterable[tuple]) -> dict[int, dict[str, Any]]:
    """Each job's events as one set of column values, later values winning."""
    changes: dict[int, dict[str, Any]] = {}
    for event in events:
        values = changes.get(event[1])
        if values is None:
            changes[event[1]] = event_values(event)
        else:
            values.update(event_values(event))
    return changes


def write_events(engine: Engine, events: Iterable[tuple]) -> None:
    """Write a batch of events: coalesced per job, then as ``write_changes`` does."""
    write_changes(engine, coalesce(events))


def write_changes(engine: Engine, changes: Mapping[int, Mapping[str, Any]]) -> None:
    """Group the updates by the columns they set and write each group in one statement.

    A job someone cancelled while it was still pending stays cancelled: every update skips
    rows whose status is already ``cancelled``. The statements go to the driver as they
    are, with values converted here, a column at a time: SQLAlchemy's per-row parameter
    processing cost a consumer more of its throughput than the database's own work did.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    for job_id, values in changes.items():
        groups.setdefault(tuple(sorted(values)), []).append(job_id)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for columns, ids in groups.items():
            sql = _update_sql(engine, columns)
            lists = [
                _converted(dialect, column, [changes[job_id][column] for job_id in ids])
                for column in columns
            ]
            if dialect == "postgresql":
                conn.exec_driver_sql(sql, (*lists, ids))
            else:
                conn.exec_driver_sql(sql, list(zip(*lists, ids, strict=True)))


def _converted(dialect: str, column: str, values: list) -> list:
    """One column's values as its SQLAlchemy type would send them to the driver."""
    if column in _DATETIME_COLUMNS:
        convert = _sqlite_time if dialect == "sqlite" else _naive_utc
    elif column in _JSON_COLUMNS:
        convert = json.dumps
    else:
        return values
    return [None if value is None else convert(value) for value in values]


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite format, naive UTC; the first 26 characters of isoformat leave out an
    offset without the cost of replace(tzinfo=None)."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


_update_statements: dict[tuple[str, tuple[str, ...]], str] = {}
_DATETIME_COLUMNS = frozenset(c.name for c in table.c if isinstance(c.type, UTCDateTime))
_JSON_COLUMNS = frozenset(c.name for c in table.c if isinstance(c.type, JSON))


def _update_sql(engine: Engine, columns: tuple[str, ...]) -> str:
    """The UPDATE for one set of columns on this database, made once per set: on SQLite one
    row per parameter tuple; on PostgreSQL all rows at once, as one array per column (far less of
    the consumer's Python per row than psycopg's pipelined executemany), sent in binary (%b):
    text arrays cost psycopg a regex per element."""
    key = (engine.dialect.name, columns)
    sql = _update_statements.get(key)
    if sql is None:
        unknown = set(columns) - set(table.c.keys())
        if unknown:
            raise ValueError(f"not job-log columns: {sorted(unknown)}")
        keep_cancelled = f"status != '{JobStatus.CANCELLED.value}'"
        if engine.dialect.name == "postgresql":
            types = [table.c[name].type.compile(dialect=engine.dialect) for name in columns]
            arrays = ", ".join(f"%b::{sql_type}[]" for sql_type in (*types, "INTEGER"))
            assignments = ", ".join(f"{name} = v.{name}" for name in columns)
            sql = (
                f"UPDATE {table.name} SET {assignments} FROM unnest({arrays}) "
                f"AS v({', '.join((*columns, 'id'))}) "
                f"WHERE {table.name}.id = v.id AND {table.name}.{keep_cancelled}"
            )
        else:
            mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
            assignments = ", ".join(f"{name} = {mark}" for name in columns)
            sql = f"UPDATE {table.name} SET {assignments} WHERE id = {mark} AND {keep_cancelled}"
        _update_statements[key] = sql
    return sql
