"""statistics: an index on the queue a call waited in

Revision ID: 0025
Revises: 0023 (the stats branch)

Why (issue 19): the statistics list every queue calls waited in (the filter and the
per-queue table). Without an index that was a pass over every fact on each report —
0.3 s of a full-year report at a million calls; with it, one index probe per queue.
Only an addition: the previous release keeps working during the upgrade.
"""
from alembic import op
import sqlalchemy as sa

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_call_facts_queue", "call_facts", ["queue"], postgresql_where=sa.text("queue IS NOT NULL"),
                    sqlite_where=sa.text("queue IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_call_facts_queue", table_name="call_facts")
