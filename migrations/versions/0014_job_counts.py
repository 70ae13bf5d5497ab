"""job logs counted per owner, task, queue and status by triggers, seeded from the rows there

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-01 22:20:00

"""
from alembic import op
import sqlalchemy as sa

from webapp.models.job_counts import create_count_triggers, drop_count_triggers, seed_job_counts


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_counts',
    sa.Column('owner', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('task', sa.String(length=200), nullable=False),
    sa.Column('queue', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('timed', sa.Integer(), nullable=False),
    sa.Column('duration_sum', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'task', 'queue', 'status', name=op.f('pk_job_counts'))
    )
    op.create_table('job_count_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('task', sa.String(length=200), nullable=False),
    sa.Column('queue', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('timed', sa.Integer(), nullable=False),
    sa.Column('duration_sum', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_count_changes')),
    sqlite_autoincrement=True
    )
    connection = op.get_bind()
    # one transaction on PostgreSQL; on SQLite nothing else writes while migrating
    seed_job_counts(connection)
    create_count_triggers(connection)


def downgrade():
    drop_count_triggers(op.get_bind())
    op.drop_table('job_count_changes')
    op.drop_table('job_counts')
