"""statistics: per-call and per-transfer facts folded from the call event log, and their per-day rollups

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-24

Existing calls get their facts with ``vaxel stats rebuild``.
"""
from alembic import op
import sqlalchemy as sa
import core.db

revision = '0007'
down_revision = '0001'
branch_labels = ('stats',)
depends_on = None

# the summed measures of the rollups, as named in stats/models.py (a migration keeps its own copy)
HOUR_MEASURES = (
    "calls", "closed", "english", "invalid_calls", "timeout_calls", "invalid_inputs", "timeouts", "lookups",
    "lookups_matched", "queued", "queue_returned", "answered", "abandoned", "queue_callback", "short",
    "within_switchboard", "within_service", "answer_seconds", "transfers", "transfers_answered", "transfers_returned",
    "transfer_hangup", "reached_by_transfer", "ivr_exits", "talked", "centre_talk_seconds", "wrapups", "resolved",
    "wrapup_seconds", "cb_requested", "cb_completed", "cb_failed", "cb_cancelled", "cb_attempts",
    "cb_contact_seconds", "reach_calls", "reach_seconds",
)
OPERATOR_MEASURES = ("answered", "answer_seconds", "talked", "talk_seconds", "wrapups", "resolved", "wrapup_seconds")


def upgrade() -> None:
    op.create_table('call_facts',
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('local_hour', sa.Integer(), nullable=False),
    sa.Column('local_weekday', sa.Integer(), nullable=False),
    sa.Column('called', sa.String(length=32), nullable=True),
    sa.Column('lang', sa.String(length=8), nullable=True),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('hours_reason', sa.String(length=24), nullable=True),
    sa.Column('menu_choice', sa.String(length=40), nullable=True),
    sa.Column('english', sa.Integer(), nullable=False),
    sa.Column('invalid_inputs', sa.Integer(), nullable=False),
    sa.Column('timeouts', sa.Integer(), nullable=False),
    sa.Column('lookups', sa.Integer(), nullable=False),
    sa.Column('lookups_matched', sa.Integer(), nullable=False),
    sa.Column('unmatched_query', sa.String(length=120), nullable=True),
    sa.Column('queue', sa.String(length=40), nullable=True),
    sa.Column('queued', sa.Integer(), nullable=False),
    sa.Column('queue_returned', sa.Integer(), nullable=False),
    sa.Column('queue_outcome', sa.String(length=16), nullable=True),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('abandoned', sa.Integer(), nullable=False),
    sa.Column('queue_callback', sa.Integer(), nullable=False),
    sa.Column('wait_seconds', sa.Integer(), nullable=True),
    sa.Column('answer_seconds', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=80), nullable=True),
    sa.Column('transfers', sa.Integer(), nullable=False),
    sa.Column('transfers_answered', sa.Integer(), nullable=False),
    sa.Column('transfers_returned', sa.Integer(), nullable=False),
    sa.Column('transfer_hangup', sa.Integer(), nullable=False),
    sa.Column('forvaltning', sa.String(length=80), nullable=True),
    sa.Column('avdelning', sa.String(length=80), nullable=True),
    sa.Column('enhet', sa.String(length=80), nullable=True),
    sa.Column('answered_by', sa.String(length=16), nullable=True),
    sa.Column('reach_seconds', sa.Integer(), nullable=True),
    sa.Column('talk_seconds', sa.Integer(), nullable=True),
    sa.Column('centre_talk_seconds', sa.Integer(), nullable=False),
    sa.Column('end_reason', sa.String(length=24), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('cb_requested', sa.Integer(), nullable=False),
    sa.Column('cb_kind', sa.String(length=16), nullable=True),
    sa.Column('cb_status', sa.String(length=16), nullable=True),
    sa.Column('cb_completed', sa.Integer(), nullable=False),
    sa.Column('cb_failed', sa.Integer(), nullable=False),
    sa.Column('cb_cancelled', sa.Integer(), nullable=False),
    sa.Column('cb_attempts', sa.Integer(), nullable=False),
    sa.Column('cb_contact_seconds', sa.Integer(), nullable=True),
    sa.Column('wrapups', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('wrapup_outcome', sa.String(length=32), nullable=True),
    sa.Column('wrapup_operator', sa.String(length=80), nullable=True),
    sa.Column('wrapup_seconds', sa.Integer(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('call_id', name=op.f('pk_call_facts'))
    )
    with op.batch_alter_table('call_facts', schema=None) as batch_op:
        batch_op.create_index('ix_call_facts_local_date_local_hour', ['local_date', 'local_hour'], unique=False)
        batch_op.create_index('ix_call_facts_unmatched', ['unmatched_query', 'local_date'], unique=False)
        batch_op.create_index('ix_call_facts_waits', ['queue_outcome', 'menu_choice', 'wait_seconds', 'local_date',
                                                      'local_hour', 'local_weekday'], unique=False)

    op.create_table('transfer_facts',
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('local_hour', sa.Integer(), nullable=False),
    sa.Column('local_weekday', sa.Integer(), nullable=False),
    sa.Column('called', sa.String(length=32), nullable=True),
    sa.Column('queue', sa.String(length=40), nullable=True),
    sa.Column('target_id', sa.String(length=80), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('unit_name', sa.String(length=200), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('forvaltning', sa.String(length=80), nullable=True),
    sa.Column('avdelning', sa.String(length=80), nullable=True),
    sa.Column('enhet', sa.String(length=80), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=True),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('ring_seconds', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('call_id', 'seq', name=op.f('pk_transfer_facts'))
    )
    with op.batch_alter_table('transfer_facts', schema=None) as batch_op:
        batch_op.create_index('ix_transfer_facts_groups', ['forvaltning', 'avdelning', 'enhet', 'target_id', 'outcome',
                                                          'reason', 'returned', 'via', 'local_date', 'target',
                                                          'unit_name', 'local_hour', 'local_weekday'],
                              unique=False)

    op.create_table('stats_days',
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.Column('built_changes', sa.Integer(), nullable=True),
    sa.Column('built_for', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('local_date', name=op.f('pk_stats_days'))
    )
    op.create_table('stats_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('local_hour', sa.Integer(), nullable=False),
    sa.Column('local_weekday', sa.Integer(), nullable=False),
    sa.Column('menu_choice', sa.String(length=40), nullable=True),
    sa.Column('called', sa.String(length=32), nullable=True),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in HOUR_MEASURES],
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_hours'))
    )
    with op.batch_alter_table('stats_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stats_hours_local_date'), ['local_date'], unique=False)
    op.create_table('stats_operator_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('local_weekday', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=80), nullable=False),
    sa.Column('wrapup_outcome', sa.String(length=32), nullable=True),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in OPERATOR_MEASURES],
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_operator_days'))
    )
    with op.batch_alter_table('stats_operator_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stats_operator_days_local_date'), ['local_date'], unique=False)


def downgrade() -> None:
    op.drop_table('stats_operator_days')
    op.drop_table('stats_hours')
    op.drop_table('stats_days')
    with op.batch_alter_table('transfer_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_transfer_facts_groups')
    op.drop_table('transfer_facts')
    with op.batch_alter_table('call_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_call_facts_waits')
        batch_op.drop_index('ix_call_facts_unmatched')
        batch_op.drop_index('ix_call_facts_local_date_local_hour')
    op.drop_table('call_facts')
