"""Transfers to an agent

Revision ID: 0009
Revises: 0008

A caller an agent passed to a given colleague waits for that agent only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_agent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_queue_entry_target_agent_id_agent"), "agent", ["target_agent_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("queue_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_queue_entry_target_agent_id_agent"), type_="foreignkey")
        batch_op.drop_column("target_agent_id")
