"""Callbacks placed by the queue

Revision ID: 0007
Revises: 0006

A callback keeps the caller's place (the call it came from, the time the caller joined the queue, the priority
and topic) and its last attempt's result; each attempt (the agent's phone, then the citizen's) is a row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("place_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("topic", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_result", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_callback_call_id_call"), "call", ["call_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "callback_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_callback_attempt_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"], ["callback.id"], name=op.f("fk_callback_attempt_callback_id_callback"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempt")),
    )
    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_attempt_callback_id"), ["callback_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_attempt_callback_id"))
    op.drop_table("callback_attempt")
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_callback_call_id_call"), type_="foreignkey")
        for column in ("last_result", "topic", "priority", "place_at", "call_id"):
            batch_op.drop_column(column)
