"""job logs: index source, batch, user and retry_of only where set

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 22:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_job_logs_source': ['source_type', 'source_id', 'id'],
    'ix_job_logs_batch_id': ['batch_id', 'id'],
    'ix_job_logs_user_id': ['user_id', 'id'],
    'ix_job_logs_retry_of': ['retry_of'],
}


def upgrade():
    # Most jobs have none of these; each state change of a job wrote an entry for it into
    # every one of these indexes all the same.
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            where = sa.text(f'{columns[0]} IS NOT NULL')
            batch_op.drop_index(name)
            batch_op.create_index(
                name, columns, unique=False, sqlite_where=where, postgresql_where=where
            )


def downgrade():
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
