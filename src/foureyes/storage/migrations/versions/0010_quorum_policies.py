"""Quorum and policies: a request may need several approvals, and rules may decide it.

``items.required_approvals`` is how many distinct people must approve (null: one, as before);
``items.creator_user_id`` the person whose key created it (who may not approve it);
``items.routes`` the channels a policy routed it to. ``decisions.policy`` names the rule that
made an automatic decision. ``policies`` holds each project's ordered rules.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable) on every backend: a batch copy would drop tables that other
    # rows refer to, which SQLite refuses with foreign keys on. No foreign key on the new user
    # column for the same reason (SQLite cannot add one in place).
    op.add_column("items", sa.Column("required_approvals", sa.Integer(), nullable=True))
    op.add_column("items", sa.Column("creator_user_id", sa.Integer(), nullable=True))
    op.add_column("items", sa.Column("routes", sa.String(500), nullable=True))
    op.add_column("decisions", sa.Column("policy", sa.String(100), nullable=True))
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("shadow", sa.Boolean(name="ck_policies_shadow"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_policies_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_policies"),
        sa.UniqueConstraint("project_id", "name", name="uq_policies_project_name"),
    )
    op.create_index("ix_policies_project_id", "policies", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_policies_project_id", table_name="policies")
    op.drop_table("policies")
    op.drop_column("decisions", "policy")
    op.drop_column("items", "routes")
    op.drop_column("items", "creator_user_id")
    op.drop_column("items", "required_approvals")
