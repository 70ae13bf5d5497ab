"""The SQL that writes new job-log rows and their tags, any number of them in one transaction.

The statements go to the driver as they are, with the values converted here, as
``jobkit.store`` does for state changes: SQLAlchemy's per-row parameter processing, and on
PostgreSQL psycopg's parsing of the thousand-row INSERTs SQLAlchemy builds, cost a bulk dispatch
more than the database's own work.

- SQLite: multi-row ``INSERT … VALUES`` of up to ROWS_PER_STATEMENT rows. The search index's
  trigger fires for each row either way, but FTS5 writes the terms it has gathered at the end
  of every statement: a statement per row (an executemany) wrote a segment per job and cost
  three times what the rows themselves did. Within one statement, under the write lock, the
  rows get consecutive ids, so its last id gives them all.
- PostgreSQL: the ids taken from the table's sequence in one query, then one
  ``INSERT … SELECT … FROM unnest(…)`` with one binary array per column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Connection, Engine

from jobkit.store import _naive_utc, _sqlite_time  # the conversions state changes use
from webapp.models.base import UTCDateTime
from webapp.models.jobs import JobLog, JobTag

table = JobLog.__table__
tag_table = JobTag.__table__
_DATETIME_COLUMNS = frozenset(c.name for c in table.c if isinstance(c.type, UTCDateTime))
# SQLite allows 32,766 parameters to a statement; a job row has fewer than 30 columns.
ROWS_PER_STATEMENT = 1000
TAGS_PER_STATEMENT = 10_000


def insert_job_rows(
    engine: Engine,
    rows: Sequence[Mapping[str, Any]],
    tags: Sequence[Sequence[str]] | None = None,
) -> list[int]:
    """Insert job-log rows (each with the same columns, JSON columns as JSON text) and each
    row's ``tags`` in one transaction; return the rows' ids in order."""
    if not rows:
        return []
    columns = tuple(rows[0])
    unknown = set(columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"not job-log columns: {sorted(unknown)}")
    sqlite = engine.dialect.name == "sqlite"
    values = _column_values(rows, columns, sqlite)
    with engine.begin() as conn:
        if sqlite:
            ids = _insert_sqlite(conn, columns, values)
        else:
            ids = _insert_postgresql(conn, columns, values)
        if tags:
            _insert_tags(conn, ids, tags, sqlite)
    return ids


def _column_values(
    rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...], sqlite: bool
) -> list[list[Any]]:
    """One list per column of the values as the driver takes them."""
    values = []
    for name in columns:
        column = list(map(itemgetter(name), rows))
        if name in _DATETIME_COLUMNS:
            convert = _sqlite_time if sqlite else _naive_utc
            column = [None if value is None else convert(value) for value in column]
        values.append(column)
    return values


def _insert_sqlite(
    conn: Connection, columns: tuple[str, ...], values: list[list[Any]]
) -> list[int]:
    ids: list[int] = []
    one_row = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    total = len(values[0])
    for start in range(0, total, ROWS_PER_STATEMENT):
        end = min(start + ROWS_PER_STATEMENT, total)
        params = tuple(
            chain.from_iterable(zip(*(column[start:end] for column in values), strict=True))
        )
        result = conn.exec_driver_sql(head + ", ".join([one_row] * (end - start)), params)
        last = result.lastrowid
        ids += range(last - (end - start) + 1, last + 1)
    return ids


def _insert_postgresql(
    conn: Connection, columns: tuple[str, ...], values: list[list[Any]]
) -> list[int]:
    total = len(values[0])
    ids = list(
        conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
            "FROM generate_series(1, %(n)s)",
            {"n": total},
        ).scalars()
    )
    # Arrays of the types without their lengths: a value too long for its column is then
    # refused by the INSERT, as a row of its own would be, not cut short by the cast.
    types = [
        re.sub(r"\(\d+\)", "", table.c[name].type.compile(dialect=conn.dialect))
        for name in ("id", *columns)
    ]
    arrays = ", ".join(f"%b::{sql_type}[]" for sql_type in types)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} (id, {', '.join(columns)}) SELECT * FROM unnest({arrays})",
        (ids, *values),
    )
    return ids


def _insert_tags(
    conn: Connection, ids: list[int], tags: Sequence[Sequence[str]], sqlite: bool
) -> None:
    """Each job's tags: one statement per tag (jobs of one dispatch mostly share theirs)."""
    jobs_by_tag: dict[str, list[int]] = {}
    by_labels: dict[tuple[str, ...], list[int]] = {}
    for job_id, labels in zip(ids, tags, strict=True):
        if labels:
            by_labels.setdefault(tuple(labels), []).append(job_id)
    for labels, job_ids in by_labels.items():
        for tag in labels:
            jobs_by_tag.setdefault(tag, []).extend(job_ids)
    for tag, job_ids in jobs_by_tag.items():
        if sqlite:
            for start in range(0, len(job_ids), TAGS_PER_STATEMENT):
                chunk = job_ids[start : start + TAGS_PER_STATEMENT]
                conn.exec_driver_sql(
                    f"INSERT INTO {tag_table.name} (job_id, tag) SELECT value, ? FROM json_each(?)",
                    (tag, "[" + ",".join(map(str, chunk)) + "]"),
                )
        else:
            conn.exec_driver_sql(
                f"INSERT INTO {tag_table.name} (job_id, tag) SELECT unnest(%b::INTEGER[]), %s",
                (job_ids, tag),
            )
