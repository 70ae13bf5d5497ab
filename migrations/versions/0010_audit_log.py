"""audit log

Revision ID: 0010
Revises: 0013_deleted_retries
Create Date: 2026-12-01 15:40:00

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.base


# revision identifiers, used by Alembic.
revision = '0010'
# Chained after main's head when merged; re-chain if another branch lands first.
down_revision = '0013_deleted_retries'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('action', sa.String(length=50), nullable=False),
        sa.Column('target_type', sa.String(length=50), nullable=True),
        sa.Column('target_id', sa.String(length=200), nullable=True),
        sa.Column('count', sa.Integer(), nullable=True),
        sa.Column('filters', sa.JSON(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=True),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_audit_log_user_id_users'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_action', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_actor', ['actor', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(
            'ix_audit_log_target', ['target_type', 'target_id', 'id'], unique=False
        )
    op.create_table(
        'audit_log_records',
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('target_type', sa.String(length=50), nullable=False),
        sa.Column('target_id', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ['entry_id'],
            ['audit_log.id'],
            name=op.f('fk_audit_log_records_entry_id_audit_log'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint(
            'entry_id', 'target_type', 'target_id', name=op.f('pk_audit_log_records')
        ),
    )
    with op.batch_alter_table('audit_log_records', schema=None) as batch_op:
        batch_op.create_index(
            'ix_audit_log_records_target', ['target_type', 'target_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('audit_log_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_records_target')
    op.drop_table('audit_log_records')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_target')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index('ix_audit_log_actor')
        batch_op.drop_index('ix_audit_log_action')
    op.drop_table('audit_log')
