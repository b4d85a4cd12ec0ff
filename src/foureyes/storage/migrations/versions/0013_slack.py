"""Slack: where a request's message was posted, and the interactions already handled.

``items.slack_channel`` and ``items.slack_message_ts`` say which Slack message shows a request
(the channel Slack answered with, which for a user id is the direct-message channel), so the
wire status carries ``slack_message_ts`` and the message can be updated once it is decided.
``slack_interactions`` keeps a digest of every signed interaction payload handled, so the same
payload presented again within the signature window is refused.

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable): a batch copy would drop a table other rows refer to.
    op.add_column("items", sa.Column("slack_channel", sa.String(64), nullable=True))
    op.add_column("items", sa.Column("slack_message_ts", sa.String(64), nullable=True))
    op.create_table(
        "slack_interactions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("slack_interactions")
    op.drop_column("items", "slack_message_ts")
    op.drop_column("items", "slack_channel")
