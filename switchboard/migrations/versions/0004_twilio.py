"""twilio adapter: answered webhooks and reported callback outcomes

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import core.db

revision = '0004'
down_revision = '0001'
branch_labels = ('twilio',)
depends_on = None


def upgrade() -> None:
    op.create_table('twilio_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('request_key', sa.String(length=80), nullable=False),
    sa.Column('twiml', sa.Text(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twilio_responses')),
    sa.UniqueConstraint('call_sid', 'request_key', name=op.f('uq_twilio_responses_call_sid'))
    )
    op.create_table('twilio_callback_outcomes',
    sa.Column('request_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('attempt', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reported_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id', 'attempt', name=op.f('pk_twilio_callback_outcomes'))
    )


def downgrade() -> None:
    op.drop_table('twilio_callback_outcomes')
    op.drop_table('twilio_responses')
