"""index the links to job logs, so that deleting job logs (a prune) does not scan them per row

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 22:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# Plain indexes: nearly every run, import and export has its job log.
INDEXES = {
    'ix_schedule_runs_job_log_id': 'schedule_runs',
    'ix_imports_job_log_id': 'imports',
    'ix_exports_job_log_id': 'exports',
}


def upgrade():
    for name, table in INDEXES.items():
        op.create_index(name, table, ['job_log_id'], unique=False)


def downgrade():
    for name, table in INDEXES.items():
        op.drop_index(name, table_name=table)
