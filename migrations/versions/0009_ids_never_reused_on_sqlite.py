"""ids never reused on SQLite: AUTOINCREMENT on every table with an integer id

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 10:00:00

"""
from alembic import op

from webapp.models.search import create_search_index, drop_search_index


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Every table with an integer id, as at this revision. Parents before children does not matter:
# env.py turns SQLite's foreign keys off while a migration runs, so a rebuilt table's old copy
# is dropped without touching the rows that point at it.
TABLES = [
    'users',
    'api_tokens',
    'job_logs',
    'job_batches',
    'alerts',
    'job_stats',
    'schedules',
    'schedule_runs',
    'series',
    'episodes',
    'integrations',
    'imports',
    'failed_import_rows',
    'exports',
]


def _rebuild(autoincrement: bool) -> None:
    connection = op.get_bind()
    if connection.dialect.name != 'sqlite':
        return  # PostgreSQL's sequences never hand out an id twice
    # The rebuild copies every row with its id; AUTOINCREMENT then starts after the largest.
    # The search index's triggers live on job_logs and go with the old copy: made again after.
    drop_search_index(connection)
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
        ):
            pass
    create_search_index(connection)
    connection.exec_driver_sql("INSERT INTO job_logs_fts(job_logs_fts) VALUES ('rebuild')")


def upgrade():
    _rebuild(autoincrement=True)


def downgrade():
    _rebuild(autoincrement=False)
