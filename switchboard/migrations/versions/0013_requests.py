"""requests that know whom they are for: target, subject, who took it, promise; units choose who answers

Revision ID: 0013
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

import core.db

revision = "0013"
down_revision = "0006"  # callback_requests
branch_labels = None
depends_on = ("0002", "0003")  # users, units

REQUEST_COLUMNS = (
    sa.Column("target_kind", sa.String(length=16), server_default="centre", nullable=False),
    sa.Column("target_id", sa.String(length=80), nullable=True),
    sa.Column("target_name", sa.String(length=200), nullable=True),
    sa.Column("unit_id", sa.Integer(), nullable=True),
    sa.Column("unit_name", sa.String(length=200), nullable=True),
    sa.Column("answered_by", sa.String(length=16), server_default="centre", nullable=False),
    sa.Column("situation", sa.String(length=32), nullable=True),
    sa.Column("subject", sa.String(length=200), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("taken_by", sa.String(length=80), server_default="ivr", nullable=False),
    sa.Column("hours_key", sa.String(length=80), nullable=True),
    sa.Column("due_by", core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column("merged", sa.Integer(), server_default="0", nullable=False),
    sa.Column("outcome", sa.String(length=32), nullable=True),
    sa.Column("email_to", sa.String(length=200), nullable=True),
    sa.Column("emailed_at", core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column("email_error", sa.String(length=300), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("callback_requests") as batch_op:
        for column in REQUEST_COLUMNS:
            batch_op.add_column(column._copy())
        batch_op.create_index(batch_op.f("ix_callback_requests_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_callback_requests_due_by"), ["due_by"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_callback_requests_unit_id_units"), "units", ["unit_id"], ["id"],
                                    ondelete="SET NULL")
    with op.batch_alter_table("units") as batch_op:
        batch_op.add_column(sa.Column("answered_by", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("promise_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=200), server_default="", nullable=False))
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("unit_slug", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("unit_slug")
    with op.batch_alter_table("units") as batch_op:
        for name in ("email", "promise_days", "answered_by"):
            batch_op.drop_column(name)
    with op.batch_alter_table("callback_requests") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_callback_requests_unit_id_units"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_callback_requests_due_by"))
        batch_op.drop_index(batch_op.f("ix_callback_requests_unit_id"))
        for column in reversed(REQUEST_COLUMNS):
            batch_op.drop_column(column.name)
