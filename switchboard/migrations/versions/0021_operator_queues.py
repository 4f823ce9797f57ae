"""the queues an operator serves (issue 16, several queues): ids of the flow's queues, "" = the default queue

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = "0021"
down_revision = "0020"  # rotas
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("queues", sa.String(length=400), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("queues")
