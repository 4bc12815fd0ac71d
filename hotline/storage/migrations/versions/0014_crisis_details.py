"""Crisis details

Revision ID: 0014
Revises: 0013

Crisis mode's recorded pre-announcement, its pinned FAQ entry and its overflow wait.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crisis_state") as batch:
        batch.add_column(sa.Column("recording", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("pinned_faq_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("overflow_wait_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crisis_state") as batch:
        batch.drop_column("overflow_wait_s")
        batch.drop_column("pinned_faq_id")
        batch.drop_column("recording")
