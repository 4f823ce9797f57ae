"""a message whose e-mail failed is tried again: attempts made and the time of the next one

Revision ID: 0019
Revises: 0013
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

import core.db

revision = "0019"
down_revision = "0013"  # callback_requests with e-mail
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_requests") as batch:
        batch.add_column(sa.Column("email_attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("email_retry_at", core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback_requests") as batch:
        batch.drop_column("email_retry_at")
        batch.drop_column("email_attempts")
