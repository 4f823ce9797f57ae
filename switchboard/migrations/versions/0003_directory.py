"""directory entries: functions, hidden numbers, extra numbers, presence

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import core.db

revision = "0003"
down_revision = "0001"
branch_labels = ("directory",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="person", nullable=False))
        batch_op.add_column(sa.Column("hidden_number", sa.Boolean(), server_default="0", nullable=False))

    op.create_table(
        "staff_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_numbers_staff_id_staff"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_numbers")),
    )
    with op.batch_alter_table("staff_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_numbers_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_numbers_value"), ["value"], unique=False)

    op.create_table(
        "presence",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forward_to", sa.String(length=32), nullable=True),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("line", sa.String(length=16), nullable=False),
        sa.Column("line_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_presence_staff_id_staff"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_presence")),
    )

    op.create_table(
        "presence_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("line", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forward_to", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_presence_changes_staff_id_staff"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_changes")),
    )
    with op.batch_alter_table("presence_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_presence_changes_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_version")),
    )


def downgrade() -> None:
    op.drop_table("directory_version")
    with op.batch_alter_table("presence_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_presence_changes_staff_id"))
    op.drop_table("presence_changes")
    op.drop_table("presence")
    with op.batch_alter_table("staff_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_numbers_value"))
        batch_op.drop_index(batch_op.f("ix_staff_numbers_staff_id"))
    op.drop_table("staff_numbers")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("hidden_number")
        batch_op.drop_column("kind")
