"""job tags: labels on jobs, indexed by tag

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01 16:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_tags',
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('tag', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['job_logs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', 'tag'),
    )
    with op.batch_alter_table('job_tags', schema=None) as batch_op:
        batch_op.create_index('ix_job_tags_tag_job_id', ['tag', 'job_id'], unique=False)


def downgrade():
    with op.batch_alter_table('job_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_job_tags_tag_job_id')
    op.drop_table('job_tags')
