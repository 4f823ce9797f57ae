"""call liveness for reconciliation

Revision ID: 0011
Revises: 0001
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
import core.db

revision = "0011"
down_revision = "0001"
branch_labels = ("reconcile",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_sessions") as batch_op:
        batch_op.add_column(sa.Column("alive_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_call_sessions_ended_at"), ["ended_at"])


def downgrade() -> None:
    with op.batch_alter_table("call_sessions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_sessions_ended_at"))
        batch_op.drop_column("alive_at")
