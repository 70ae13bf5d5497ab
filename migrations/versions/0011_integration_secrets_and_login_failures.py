"""integration secrets encrypted at rest; failed sign-ins shared by every web process

Revision ID: 0011
Revises: 0013_deleted_retries
Create Date: 2026-12-01 15:40:00

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.base  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('encrypted_settings', sa.Text(), nullable=True))
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('at', webapp.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_key_at', ['key', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_key_at')
    op.drop_table('login_failures')
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.drop_column('encrypted_settings')
