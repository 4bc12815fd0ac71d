"""Agent accounts

Revision ID: 0004
Revises: 0003

Agents become accounts: a role for the console, an Argon2id hash of the web password, and the digest credential
of their SIP phone (pushed to Asterisk; the plain SIP password is shown once and kept nowhere).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=32), nullable=False, server_default="agent"))
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("sip_digest", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_column("sip_digest")
        batch_op.drop_column("password_hash")
        batch_op.drop_column("role")
