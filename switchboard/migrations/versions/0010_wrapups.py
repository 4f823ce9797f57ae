"""wrap-ups: one per conversation, corrections as new rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
import core.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wrapups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=80), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["call_sessions.call_id"],
                                name=op.f("fk_wrapups_call_id_call_sessions")),
        sa.ForeignKeyConstraint(["supersedes_id"], ["wrapups.id"], name=op.f("fk_wrapups_supersedes_id_wrapups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wrapups")),
        sa.UniqueConstraint("call_id", "revision", name=op.f("uq_wrapups_call_id")),
    )
    with op.batch_alter_table("wrapups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wrapups_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wrapups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wrapups_call_id"))
    op.drop_table("wrapups")
