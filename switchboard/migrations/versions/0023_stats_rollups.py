"""statistics: rollups per queue, waits per bucket, wrap-ups per outcome, operators per hour, days' totals

Revision ID: 0023
Revises: 0007 (the stats branch)

Why (issue 19): a full-year report sums a few thousand day rows in SQL instead of
tens of thousands of hour rows in Python; the queue filter reads rollups; the
90th percentile of the wait reads one wait bucket of facts instead of all; the
department filter reads only the transferred calls of that unit; the top
unmatched queries read only calls with one, hours and weekdays included.

Only additions (the previous release may still serve during the upgrade): rows
and tables stay; ``stats_operator_days`` now holds hours and keeps its unused
``wrapup_outcome``. Rollups are derived data: the rollup layout is part of the
definitions' fingerprint (``stats.rollup.LAYOUT``), so the next report rebuilds
every day it reads.
"""
from alembic import op
import sqlalchemy as sa

revision = '0023'
down_revision = '0007'
branch_labels = None
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
WAIT_MEASURES = tuple(f"answered_wait_{lower}" for lower in (0, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420,
                                                               600, 900, 1800))
WRAPUP_MEASURES = ("wrapups_answered_by_centre", "wrapups_transferred", "wrapups_referred_to_phone_hours",
                   "wrapups_message_taken")
NEW_MEASURES = (*WAIT_MEASURES, *WRAPUP_MEASURES)
LEVELS = ("forvaltning", "avdelning", "enhet")


def upgrade() -> None:
    with op.batch_alter_table('stats_hours', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('longest_wait', sa.Integer(), nullable=True))
        for name in NEW_MEASURES:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('stats_operator_days', schema=None) as batch_op:  # now per hour
        batch_op.add_column(sa.Column('local_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('called', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('queue', sa.String(length=40), nullable=True))
    op.create_table('stats_day_totals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('local_weekday', sa.Integer(), nullable=False),
    sa.Column('menu_choice', sa.String(length=40), nullable=True),
    sa.Column('called', sa.String(length=32), nullable=True),
    sa.Column('queue', sa.String(length=40), nullable=True),
    sa.Column('longest_wait', sa.Integer(), nullable=True),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in (*HOUR_MEASURES, *NEW_MEASURES)],
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_day_totals'))
    )
    with op.batch_alter_table('stats_day_totals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stats_day_totals_local_date'), ['local_date'], unique=False)
    op.drop_index('ix_call_facts_unmatched', table_name='call_facts')
    op.create_index('ix_call_facts_unmatched', 'call_facts',
                    ['unmatched_query', 'local_date', 'local_hour', 'local_weekday'], unique=False,
                    postgresql_where=sa.text('unmatched_query IS NOT NULL'),
                    sqlite_where=sa.text('unmatched_query IS NOT NULL'))
    for level in LEVELS:
        op.create_index(f'ix_call_facts_{level}', 'call_facts', [level, 'local_date'], unique=False,
                        postgresql_where=sa.text(f'{level} IS NOT NULL'), sqlite_where=sa.text(f'{level} IS NOT NULL'))


def downgrade() -> None:
    for level in LEVELS:
        op.drop_index(f'ix_call_facts_{level}', table_name='call_facts')
    op.drop_index('ix_call_facts_unmatched', table_name='call_facts')
    op.create_index('ix_call_facts_unmatched', 'call_facts', ['unmatched_query', 'local_date'], unique=False)
    op.drop_table('stats_day_totals')
    with op.batch_alter_table('stats_operator_days', schema=None) as batch_op:
        for name in ('queue', 'called', 'local_hour'):
            batch_op.drop_column(name)
    with op.batch_alter_table('stats_hours', schema=None) as batch_op:
        for name in NEW_MEASURES:
            batch_op.drop_column(name)
        batch_op.drop_column('longest_wait')
        batch_op.drop_column('queue')
