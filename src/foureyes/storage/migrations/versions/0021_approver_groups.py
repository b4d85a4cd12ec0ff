"""Approver groups: a project's named groups of people, and requests that need approvals from
members of some of them.

``project_groups`` / ``project_group_members``: the groups and who is in them (people, by user).
``items.approver_groups``: the groups a request's requirement names (space-separated);
``items.approver_groups_needed``: from how many distinct ones of them approvals are needed.
``decisions.approver_groups``: of those, the groups the approver was in when approving.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on every backend (a batch copy would trip SQLite's foreign keys).
    op.add_column("items", sa.Column("approver_groups", sa.Text(), nullable=True))
    op.add_column("items", sa.Column("approver_groups_needed", sa.Integer(), nullable=True))
    op.add_column("decisions", sa.Column("approver_groups", sa.Text(), nullable=True))
    op.create_table(
        "project_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_project_groups"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_project_groups_project_id_projects"
        ),
        sa.UniqueConstraint("project_id", "name", name="uq_project_groups_project_name"),
    )
    op.create_table(
        "project_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "user_id", name="pk_project_group_members"),
        sa.ForeignKeyConstraint(
            ["group_id"], ["project_groups.id"], name="fk_project_group_members_group_id_project_groups"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_project_group_members_user_id_users"),
    )
    op.create_index("ix_project_group_members_user_id", "project_group_members", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_project_group_members_user_id", "project_group_members")
    op.drop_table("project_group_members")
    op.drop_table("project_groups")
    op.drop_column("decisions", "approver_groups")
    op.drop_column("items", "approver_groups_needed")
    op.drop_column("items", "approver_groups")
