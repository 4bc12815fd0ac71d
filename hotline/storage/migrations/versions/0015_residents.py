"""The residents' alert register

Revision ID: 0015
Revises: 0014

The people registered for Aurevault Alerte: one row per phone number (E.164), their commune and hamlet of the
territory, when and how they consented, and when and how they opted out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("hamlet", sa.String(length=64), nullable=True),
        sa.Column("consent_date", sa.Date(), nullable=False),
        sa.Column("consent_channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opt_out_channel", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident")),
    )
    with op.batch_alter_table("resident") as batch:
        batch.create_index(batch.f("ix_resident_phone_e164"), ["phone_e164"], unique=True)
        batch.create_index(batch.f("ix_resident_commune"), ["commune"], unique=False)
        batch.create_index(batch.f("ix_resident_opted_out_at"), ["opted_out_at"], unique=False)


def downgrade() -> None:
    op.drop_table("resident")
