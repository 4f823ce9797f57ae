"""operator console

Revision ID: 0009
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import core.db

revision = "0009"
down_revision = "0001"
branch_labels = ("console",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_operators",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("endpoint", sa.String(length=80), nullable=False),
        sa.Column("on_hold", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_console_operators")),
    )


def downgrade() -> None:
    op.drop_table("console_operators")
