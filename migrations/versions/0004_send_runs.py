"""send runs and batches for the task queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('send_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_slug', sa.String(length=200), nullable=False),
    sa.Column('essay', sa.Text(), nullable=False),
    sa.Column('retry_uncertain', sa.Boolean(), nullable=False),
    sa.Column('batches_left', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('send_runs', schema=None) as batch_op:
        batch_op.create_index('ix_send_runs_post_slug', ['post_slug'], unique=False)
    op.create_table('send_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('first_id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=True),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['send_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('send_batches', schema=None) as batch_op:
        batch_op.create_index('ix_send_batches_run_id', ['run_id'], unique=False)


def downgrade():
    op.drop_table('send_batches')
    op.drop_table('send_runs')
