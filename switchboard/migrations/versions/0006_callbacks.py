"""callbacks: place keeping, claims with leases, attempts, retention

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import core.db


revision = '0006'
down_revision = '0001'
branch_labels = ('callbacks',)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_entry_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('call_now', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('purged_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_callback_requests_queue_entry_id'), ['queue_entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_requests_closed_at'), ['closed_at'], unique=False)

    op.create_table('callback_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=80), nullable=False),
    sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dial_order', sa.String(length=16), nullable=False),
    sa.Column('operator', sa.String(length=80), nullable=True),
    sa.Column('platform_id', sa.String(length=128), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('ended_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['callback_requests.id'],
                            name=op.f('fk_callback_attempts_request_id_callback_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempts')),
    sa.UniqueConstraint('request_id', 'attempt', name=op.f('uq_callback_attempts_request_id'))
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_attempts_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_attempts_request_id'))

    op.drop_table('callback_attempts')
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_requests_closed_at'))
        batch_op.drop_index(batch_op.f('ix_callback_requests_queue_entry_id'))
        batch_op.drop_column('purged_at')
        batch_op.drop_column('note')
        batch_op.drop_column('closed_by')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('call_now')
        batch_op.drop_column('attempts')
        batch_op.drop_column('queue_entry_id')
