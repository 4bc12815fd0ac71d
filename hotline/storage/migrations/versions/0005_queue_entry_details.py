"""Queue entry details

Revision ID: 0005
Revises: 0004

What the agent queue keeps on each caller's stay: the caller's leg and number, why they asked for a person and
what they said, the agent offered the call and when, when it was answered and when its wrap-up ended (the
measured handle time behind the expected wait).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("caller_phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("transcript", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("offered_agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("wrapped_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_queue_entry_channel_id"), ["channel_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_queue_entry_offered_agent_id_agent"), "agent", ["offered_agent_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("queue_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_queue_entry_offered_agent_id_agent"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_queue_entry_channel_id"))
        for column in ("wrapped_up_at", "answered_at", "offered_at", "offered_agent_id", "transcript", "reason",
                       "caller_phone", "channel_id"):  # fmt: skip
            batch_op.drop_column(column)
