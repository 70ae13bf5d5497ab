"""Full-text search over job logs' arguments, payload and error, kept by the database itself.

SQLite: an FTS5 index (external content, so the text is not stored twice) kept in step by
triggers. PostgreSQL: a trigram GIN index (pg_trgm) on one text expression, so ``ILIKE '%…%'``
is an index lookup. Neither fits in SQLAlchemy's metadata, so both are created here, by the
migration and by ``create_all`` in tests, and left out of autogenerate's comparison.
"""

from sqlalchemy import DDL, event

from webapp.models.jobs import JobLog

# The PostgreSQL expression the index is built on; a query must repeat it exactly.
PG_SEARCH_TEXT = (
    "(coalesce(error, '') || ' ' || coalesce(arguments::text, '') || ' ' "
    "|| coalesce(payload::text, ''))"
)

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE job_logs_fts USING fts5("
    "arguments, payload, error, content='job_logs', content_rowid='id')",
    "CREATE TRIGGER job_logs_fts_insert AFTER INSERT ON job_logs BEGIN "
    "INSERT INTO job_logs_fts(rowid, arguments, payload, error) "
    "VALUES (new.id, new.arguments, new.payload, new.error); END",
    "CREATE TRIGGER job_logs_fts_delete AFTER DELETE ON job_logs BEGIN "
    "INSERT INTO job_logs_fts(job_logs_fts, rowid, arguments, payload, error) "
    "VALUES ('delete', old.id, old.arguments, old.payload, old.error); END",
    # Only when the searchable text changed: progress reports must not rewrite the index.
    "CREATE TRIGGER job_logs_fts_update AFTER UPDATE OF arguments, payload, error ON job_logs "
    "WHEN old.arguments IS NOT new.arguments OR old.payload IS NOT new.payload "
    "OR old.error IS NOT new.error BEGIN "
    "INSERT INTO job_logs_fts(job_logs_fts, rowid, arguments, payload, error) "
    "VALUES ('delete', old.id, old.arguments, old.payload, old.error); "
    "INSERT INTO job_logs_fts(rowid, arguments, payload, error) "
    "VALUES (new.id, new.arguments, new.payload, new.error); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS job_logs_fts_update",
    "DROP TRIGGER IF EXISTS job_logs_fts_delete",
    "DROP TRIGGER IF EXISTS job_logs_fts_insert",
    "DROP TABLE IF EXISTS job_logs_fts",
]
PG_DDL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX ix_job_logs_search ON job_logs USING gin ({PG_SEARCH_TEXT} gin_trgm_ops)",
]
PG_DROP = ["DROP INDEX IF EXISTS ix_job_logs_search"]

SEARCH_OBJECTS = {"job_logs_fts", "ix_job_logs_search"}


def create_search_index(connection) -> None:
    """Create the search index for this connection's database (the migration calls this)."""
    statements = SQLITE_DDL if connection.dialect.name == "sqlite" else PG_DDL
    for statement in statements:
        connection.exec_driver_sql(statement)


def drop_search_index(connection) -> None:
    statements = SQLITE_DROP if connection.dialect.name == "sqlite" else PG_DROP
    for statement in statements:
        connection.exec_driver_sql(statement)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For Alembic's comparison: the search index and FTS5's own tables are not models."""
    return not (name and (name in SEARCH_OBJECTS or name.startswith("job_logs_fts")))


for _statement in SQLITE_DDL:
    event.listen(JobLog.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in SQLITE_DROP:  # drop_all() knows nothing of them otherwise
    event.listen(JobLog.__table__, "before_drop", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in PG_DDL:
    event.listen(JobLog.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
