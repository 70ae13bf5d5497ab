"""deleted retries: a flushed retry keeps the job it retried off the failed list

Revision ID: 0013_deleted_retries
Revises: 0012
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.base  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '0013_deleted_retries'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'deleted_retries',
        sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('retry_of', sa.Integer(), nullable=False),
        sa.Column('deleted_at', webapp.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('job_id'),
    )
    op.create_index('ix_deleted_retries_retry_of', 'deleted_retries', ['retry_of'])


def downgrade():
    op.drop_index('ix_deleted_retries_retry_of', table_name='deleted_retries')
    op.drop_table('deleted_retries')
