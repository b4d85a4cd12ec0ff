"""Passkeys and step-up: reviewers' WebAuthn credentials, the single-use challenges handed out
for them, and which requests need a fresh passkey assertion to be decided.

``projects.step_up``: the project's new requests need step-up. ``items.step_up``: this request
needs it (copied from its project when it is made; kept on the item so a rule could set it).
``decisions.step_up_credential``: the passkey whose assertion backed the decision.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on every backend (a batch copy would trip SQLite's foreign keys).
    op.add_column("projects", sa.Column("step_up", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("items", sa.Column("step_up", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("decisions", sa.Column("step_up_credential", sa.String(1400), nullable=True))
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_passkeys"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_passkeys_user_id_users"),
        sa.UniqueConstraint("credential_id", name="uq_passkeys_credential_id"),
    )
    op.create_index("ix_passkeys_user_id", "passkeys", ["user_id"])
    op.create_table(
        "webauthn_challenges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nonce_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(80), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webauthn_challenges"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_webauthn_challenges_user_id_users"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_webauthn_challenges_item_id_items"),
        sa.UniqueConstraint("nonce_hash", name="uq_webauthn_challenges_nonce_hash"),
    )
    op.create_index("ix_webauthn_challenges_expires_at", "webauthn_challenges", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_webauthn_challenges_expires_at", "webauthn_challenges")
    op.drop_table("webauthn_challenges")
    op.drop_index("ix_passkeys_user_id", "passkeys")
    op.drop_table("passkeys")
    op.drop_column("decisions", "step_up_credential")
    op.drop_column("items", "step_up")
    op.drop_column("projects", "step_up")
