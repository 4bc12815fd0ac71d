"""Call commune

Revision ID: 0013
Revises: 0012

The commune (of kb/territory.yaml) the caller named, for the calls counted by commune and the surge banner.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call") as batch:
        batch.add_column(sa.Column("commune", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_call_commune"), ["commune"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call") as batch:
        batch.drop_index(batch.f("ix_call_commune"))
        batch.drop_column("commune")
