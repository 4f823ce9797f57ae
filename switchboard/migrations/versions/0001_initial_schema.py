"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import core.db
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_events')),
    sa.UniqueConstraint('call_id', 'step', 'seq', name=op.f('uq_call_events_call_id'))
    )
    with op.batch_alter_table('call_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_events_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_call_events_type_at', ['type', 'at'], unique=False)

    op.create_table('callback_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('requested_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('queue', sa.String(length=40), nullable=False),
    sa.Column('queue_position', sa.Integer(), nullable=True),
    sa.Column('menu_choice', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_requests')),
    sa.UniqueConstraint('call_id', name=op.f('uq_callback_requests_call_id'))
    )
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_requests_number'), ['number'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_requests_status'), ['status'], unique=False)

    op.create_table('closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('starts_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message_sv', sa.Text(), nullable=False),
    sa.Column('message_en', sa.Text(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closures'))
    )
    op.create_table('flow_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flow_key', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_versions')),
    sa.UniqueConstraint('flow_key', 'version', name=op.f('uq_flow_versions_flow_key'))
    )
    op.create_table('phone_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('weekly', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('eve_close', sa.String(length=5), nullable=True),
    sa.Column('observe_holidays', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_hours')),
    sa.UniqueConstraint('key', name=op.f('uq_phone_hours_key'))
    )
    op.create_table('queue_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=40), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('joined_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('position_at_join', sa.Integer(), nullable=False),
    sa.Column('returned_from', sa.String(length=200), nullable=True),
    sa.Column('left_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_entries'))
    )
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queue_entries_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_queue_entries_left_at'), ['left_at'], unique=False)

    op.create_table('special_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=80), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('intervals', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_special_days')),
    sa.UniqueConstraint('scope', 'day', name=op.f('uq_special_days_scope'))
    )
    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['units.id'], name=op.f('fk_units_parent_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('slug', name=op.f('uq_units_slug'))
    )
    op.create_table('call_sessions',
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('flow_version_id', sa.Integer(), nullable=False),
    sa.Column('caller', sa.String(length=32), nullable=True),
    sa.Column('called', sa.String(length=32), nullable=True),
    sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['flow_version_id'], ['flow_versions.id'], name=op.f('fk_call_sessions_flow_version_id_flow_versions')),
    sa.PrimaryKeyConstraint('call_id', name=op.f('pk_call_sessions'))
    )
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_sessions_recorded_at'), ['recorded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_sessions_started_at'), ['started_at'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('extension', sa.String(length=16), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('mobile', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_staff_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('external_id', name=op.f('uq_staff_external_id'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_extension'), ['extension'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_mobile'), ['mobile'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_unit_id'), ['unit_id'], unique=False)

    op.create_table('keywords',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=120), nullable=False),
    sa.Column('folded', sa.String(length=120), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_keywords_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_keywords_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_keywords'))
    )
    with op.batch_alter_table('keywords', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_keywords_folded'), ['folded'], unique=False)
        batch_op.create_index(batch_op.f('ix_keywords_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_keywords_unit_id'), ['unit_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('keywords', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_keywords_unit_id'))
        batch_op.drop_index(batch_op.f('ix_keywords_staff_id'))
        batch_op.drop_index(batch_op.f('ix_keywords_folded'))

    op.drop_table('keywords')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_unit_id'))
        batch_op.drop_index(batch_op.f('ix_staff_phone'))
        batch_op.drop_index(batch_op.f('ix_staff_mobile'))
        batch_op.drop_index(batch_op.f('ix_staff_extension'))

    op.drop_table('staff')
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_sessions_started_at'))
        batch_op.drop_index(batch_op.f('ix_call_sessions_recorded_at'))

    op.drop_table('call_sessions')
    op.drop_table('units')
    op.drop_table('special_days')
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_entries_left_at'))
        batch_op.drop_index(batch_op.f('ix_queue_entries_call_id'))

    op.drop_table('queue_entries')
    op.drop_table('phone_hours')
    op.drop_table('flow_versions')
    op.drop_table('closures')
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_requests_status'))
        batch_op.drop_index(batch_op.f('ix_callback_requests_number'))

    op.drop_table('callback_requests')
    with op.batch_alter_table('call_events', schema=None) as batch_op:
        batch_op.drop_index('ix_call_events_type_at')
        batch_op.drop_index(batch_op.f('ix_call_events_call_id'))

    op.drop_table('call_events')
