"""Routing: a project's default channels, and who may decide through an email link.

``projects.default_channels`` is a JSON list of ContactChannel objects (``{"email": {...}}``,
later ``{"slack": {...}}``) a request that names no channel is sent to (null: none).
``projects.email_deciders_members_only``: when true, only foureyes people with a deciding role
in the project may decide through an email link.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on every backend (a batch copy would trip SQLite's foreign keys).
    op.add_column("projects", sa.Column("default_channels", sa.Text(), nullable=True))
    op.add_column(
        "projects",
        sa.Column("email_deciders_members_only", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("projects", "email_deciders_members_only")
    op.drop_column("projects", "default_channels")
