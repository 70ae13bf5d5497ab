"""job log search (FTS5 on SQLite, pg_trgm on PostgreSQL) and the created_at index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 11:05:00

"""
from alembic import op

from webapp.models.search import create_search_index, drop_search_index


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        batch_op.create_index('ix_job_logs_created_at', ['created_at'], unique=False)
    connection = op.get_bind()
    create_search_index(connection)
    if connection.dialect.name == 'sqlite':  # index the job logs that are already there
        connection.exec_driver_sql("INSERT INTO job_logs_fts(job_logs_fts) VALUES ('rebuild')")


def downgrade():
    drop_search_index(op.get_bind())
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_logs_created_at')
