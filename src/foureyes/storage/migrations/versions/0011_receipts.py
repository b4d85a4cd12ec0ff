"""Receipts and edits: signing keys, each decision's receipt and edited arguments, and whether
a request lets a reviewer edit its arguments.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable) on every backend: a batch copy would drop tables that other
    # rows refer to, which SQLite refuses with foreign keys on.
    op.add_column("items", sa.Column("allow_edit", sa.Boolean(name="ck_items_allow_edit"), nullable=True))
    op.add_column("decisions", sa.Column("edited_kwargs", sa.Text(), nullable=True))
    op.add_column("decisions", sa.Column("receipt", sa.Text(), nullable=True))
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_signing_keys"),
        sa.UniqueConstraint("kid", name="uq_signing_keys_kid"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_column("decisions", "receipt")
    op.drop_column("decisions", "edited_kwargs")
    op.drop_column("items", "allow_edit")
