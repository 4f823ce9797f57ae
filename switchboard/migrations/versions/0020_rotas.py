"""Rotas: which person takes a function's calls, by weekday or by date (``directory.rota``).

Revision ID: 0020
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0016"  # staff.working_hours (issue 16)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rota_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("function_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
        sa.UniqueConstraint("function_id", "weekday", name="uq_rota_entries_function_weekday"),
        sa.UniqueConstraint("function_id", "on_date", name="uq_rota_entries_function_date"),
    )
    op.create_index("ix_rota_entries_function_id", "rota_entries", ["function_id"])
    op.create_index("ix_rota_entries_person_id", "rota_entries", ["person_id"])


def downgrade() -> None:
    op.drop_table("rota_entries")
