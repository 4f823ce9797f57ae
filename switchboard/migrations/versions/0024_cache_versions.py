"""Several serving processes: cache tokens (every process keeps the flow, the phone hours and directory facts in
memory while its token is unchanged: ``core.versions``) and when an operator's console was last open anywhere.

Revision ID: 0024
Revises: 0010, 0020
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = ("0010", "0020")  # console_operators comes through 0009-0010
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    now = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    op.bulk_insert(table, [{"name": kind, "token": uuid.uuid4().hex, "changed_at": now}
                           for kind in ("flow", "hours", "directory")])


    # with several serving processes, whether an operator's console is open in any of them
    with op.batch_alter_table("console_operators") as batch:
        batch.add_column(sa.Column("console_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_operators") as batch:
        batch.drop_column("console_seen_at")
    op.drop_table("cache_versions")
