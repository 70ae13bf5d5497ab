"""Finished job logs counted per owner, task, queue and status, kept by the database itself.

Triggers on ``job_logs`` count every finished job inserted, deleted or changed in a counted
column (whatever writes it: the recorder, a prune, a user's deletion setting ``user_id`` to
NULL), so the counts are exactly what a scan of the table would give. Pending and running jobs
are not counted here: they are few (the queue, not the history) and read by the status index,
and leaving them out keeps starting a job free of any counting.

SQLite has one writer at a time, so its row triggers add to ``job_counts`` directly. On
PostgreSQL, consumers write at once and a shared counter row would make them wait on each
other (or deadlock), so a statement trigger appends its statement's net change to
``job_count_changes`` and the upkeep folds them into ``job_counts``
(``fold_job_count_changes``); a reading adds the two.

``owner`` is the job's ``user_id``, 0 for the jobs nobody owns (a key column cannot be NULL).
``timed`` and ``duration_sum`` cover completed jobs that have both times, for mean durations.
"""

from sqlalchemy import DDL, Double, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import IDS_NEVER_REUSED
from webapp.models.jobs import JobLog

NOBODY = 0


class JobCount(db.Model):
    """How many job logs of one owner, task, queue and status there are."""

    __tablename__ = "job_counts"

    owner: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    task: Mapped[str] = mapped_column(String(200), primary_key=True)
    queue: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    timed: Mapped[int] = mapped_column(default=0)
    duration_sum: Mapped[float] = mapped_column(Double, default=0.0)


class JobCountChange(db.Model):
    """A change to ``job_counts`` not folded in yet (PostgreSQL only; SQLite adds directly)."""

    __tablename__ = "job_count_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(default=0)
    timed: Mapped[int] = mapped_column(default=0)
    duration_sum: Mapped[float] = mapped_column(Double, default=0.0)

    __table_args__ = (IDS_NEVER_REUSED,)


def _sqlite_add(row: str, sign: str) -> str:
    # julianday() is NULL past 9999-12-31 23:59:59.999 (it rounds into year 10000): such a
    # job counts as timed with no duration rather than failing its write
    duration = (
        f"coalesce((julianday({row}.finished_at) - julianday({row}.started_at)) * 86400.0, 0.0)"
    )
    timed = (
        f"{row}.status = 'completed' AND {row}.started_at IS NOT NULL "
        f"AND {row}.finished_at IS NOT NULL"
    )
    return (
        "INSERT INTO job_counts (owner, task, queue, status, count, timed, duration_sum) "
        f"VALUES (coalesce({row}.user_id, 0), {row}.task, {row}.queue, {row}.status, {sign}1, "
        f"CASE WHEN {timed} THEN {sign}1 ELSE 0 END, "
        f"CASE WHEN {timed} THEN {sign}{duration} ELSE 0.0 END) "
        "ON CONFLICT (owner, task, queue, status) DO UPDATE SET "
        "count = count + excluded.count, timed = timed + excluded.timed, "
        "duration_sum = duration_sum + excluded.duration_sum;"
    )


COUNTED = ("user_id", "task", "queue", "status", "started_at", "finished_at")
FINISHED = "('completed', 'failed', 'cancelled')"
_CHANGED = " OR ".join(f"old.{c} IS NOT new.{c}" for c in COUNTED)

SQLITE_DDL = [
    "CREATE TRIGGER job_counts_insert AFTER INSERT ON job_logs "
    f"WHEN new.status IN {FINISHED} BEGIN {_sqlite_add('new', '')} END",
    "CREATE TRIGGER job_counts_delete AFTER DELETE ON job_logs "
    f"WHEN old.status IN {FINISHED} BEGIN {_sqlite_add('old', '-')} END",
    # Only when a counted column of a finished job changed: starting a job and its progress
    # reports leave the counts alone, and finishing one is a single addition.
    f"CREATE TRIGGER job_counts_update_old AFTER UPDATE OF {', '.join(COUNTED)} ON job_logs "
    f"WHEN old.status IN {FINISHED} AND ({_CHANGED}) BEGIN {_sqlite_add('old', '-')} END",
    f"CREATE TRIGGER job_counts_update_new AFTER UPDATE OF {', '.join(COUNTED)} ON job_logs "
    f"WHEN new.status IN {FINISHED} AND ({_CHANGED}) BEGIN {_sqlite_add('new', '')} END",
]

# The net change of one statement's rows (``rows`` has a column ``sign``), grouped per key.
_PG_APPEND = """
    INSERT INTO job_count_changes (owner, task, queue, status, count, timed, duration_sum)
    SELECT coalesce(user_id, 0), task, queue, status, sum(sign),
           coalesce(sum(sign) FILTER (WHERE status = 'completed' AND started_at IS NOT NULL
                                      AND finished_at IS NOT NULL), 0),
           coalesce(sum(sign * extract(epoch FROM finished_at - started_at))
                    FILTER (WHERE status = 'completed'), 0)
    FROM ({rows}) AS changed
    WHERE status IN ('completed', 'failed', 'cancelled')
    GROUP BY 1, 2, 3, 4
    HAVING sum(sign) <> 0
        OR sum(sign) FILTER (WHERE status = 'completed' AND started_at IS NOT NULL
                             AND finished_at IS NOT NULL) <> 0
        OR sum(sign * extract(epoch FROM finished_at - started_at))
           FILTER (WHERE status = 'completed') <> 0
"""
_PG_COLUMNS = ", ".join(COUNTED)
PG_DDL = [
    "CREATE OR REPLACE FUNCTION job_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    + _PG_APPEND.format(rows=f"SELECT {_PG_COLUMNS}, 1 AS sign FROM new_rows")
    + "; ELSIF TG_OP = 'DELETE' THEN "
    + _PG_APPEND.format(rows=f"SELECT {_PG_COLUMNS}, -1 AS sign FROM old_rows")
    + "; ELSE "
    # An update's net change: its rows as they are now, less the same rows as they were. A
    # row whose counted columns did not change cancels out in the sums (and its group is left
    # out), so there is no join of the two transition tables, which have no index: joined,
    # a batch of 20,000 finished jobs took minutes.
    + _PG_APPEND.format(
        rows=f"SELECT {_PG_COLUMNS}, -1 AS sign FROM old_rows "
        f"UNION ALL SELECT {_PG_COLUMNS}, 1 FROM new_rows"
    )
    + "; END IF; RETURN NULL; END $$",
    "CREATE TRIGGER job_counts_insert AFTER INSERT ON job_logs REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION job_counts_changed()",
    "CREATE TRIGGER job_counts_update AFTER UPDATE ON job_logs "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION job_counts_changed()",
    "CREATE TRIGGER job_counts_delete AFTER DELETE ON job_logs REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION job_counts_changed()",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS job_counts_insert ON job_logs",
    "DROP TRIGGER IF EXISTS job_counts_update ON job_logs",
    "DROP TRIGGER IF EXISTS job_counts_delete ON job_logs",
    "DROP FUNCTION IF EXISTS job_counts_changed()",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS job_counts_insert",
    "DROP TRIGGER IF EXISTS job_counts_update_old",
    "DROP TRIGGER IF EXISTS job_counts_update_new",
    "DROP TRIGGER IF EXISTS job_counts_delete",
]

# Counts every job log already there (the migration runs it once, before the triggers exist).
SEED = """
    INSERT INTO job_counts (owner, task, queue, status, count, timed, duration_sum)
    SELECT coalesce(user_id, 0), task, queue, status, count(*),
           sum(CASE WHEN status = 'completed' AND started_at IS NOT NULL
                    AND finished_at IS NOT NULL THEN 1 ELSE 0 END),
           coalesce(sum(CASE WHEN status = 'completed' THEN {duration} END), 0.0)
    FROM job_logs WHERE status IN ('completed', 'failed', 'cancelled') GROUP BY 1, 2, 3, 4
"""
SEED_DURATION = {
    "sqlite": "coalesce((julianday(finished_at) - julianday(started_at)) * 86400.0, 0.0)",
    "postgresql": "extract(epoch FROM finished_at - started_at)",
}


def create_count_triggers(connection) -> None:
    """Create the counting triggers for this connection's database (the migration calls this)."""
    _execute(connection, SQLITE_DDL if connection.dialect.name == "sqlite" else PG_DDL)


def drop_count_triggers(connection) -> None:
    _execute(connection, SQLITE_DROP if connection.dialect.name == "sqlite" else PG_DROP)


def _execute(connection, statements: list[str]) -> None:
    for statement in statements:
        connection.exec_driver_sql(statement)


def seed_job_counts(connection) -> None:
    """Count the job logs already there into ``job_counts``."""
    duration = SEED_DURATION[connection.dialect.name]
    connection.exec_driver_sql(SEED.format(duration=duration))


for _statement in SQLITE_DDL:
    event.listen(JobLog.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in PG_DDL:
    event.listen(JobLog.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
