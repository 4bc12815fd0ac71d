"""Ticket outcome

Revision ID: 0002
Revises: 0001

Every call becomes a ticket; the ticket keeps how its call ended (self-served, to agent, callback
requested, abandoned, fallback) so the console and the open-data export need no join to the call.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_ticket_outcome"), ["outcome"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_outcome"))
        batch_op.drop_column("outcome")
