"""units choose whether whoever answers a transfer must press 1 first and where an unanswered one goes;
people how they are rung (desk, desk and mobile together, desk then mobile) and when they work

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-01

NULL is "as the parent unit", and at the top the site's ``transfers.confirm_answer`` (on by default).
"""
from alembic import op
import sqlalchemy as sa

import core.db

revision = "0016"
down_revision = "0013"  # the units' who-answers choices
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch_op:
        batch_op.add_column(sa.Column("confirm_answer", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("no_answer", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("no_answer_number", sa.String(length=32), nullable=True))


    with op.batch_alter_table("staff") as batch_op:
        batch_op.add_column(sa.Column("ring", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("working_hours", core.db.JSONDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch_op:
        batch_op.drop_column("working_hours")
        batch_op.drop_column("ring")
    with op.batch_alter_table("units") as batch_op:
        for name in ("no_answer_number", "no_answer", "confirm_answer"):
            batch_op.drop_column(name)
