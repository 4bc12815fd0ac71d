"""Later calls joining an open ticket

Revision ID: 0008
Revises: 0007

A caller who calls again on the same topic within a week, while their request is open, joins its ticket: the
link of each later call to the ticket.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_call",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"], name=op.f("fk_ticket_call_call_id_call"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_call_ticket_id_ticket"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_ticket_call")),
    )
    with op.batch_alter_table("ticket_call", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_call_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_call", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_call_ticket_id"))
    op.drop_table("ticket_call")
