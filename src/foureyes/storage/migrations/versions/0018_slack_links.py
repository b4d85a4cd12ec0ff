"""Slack, continued: people linked by a one-time code, escalation messages, a project's token.

- ``slack_users``: a Slack user id linked to a person of this server (``/foureyes link CODE``);
  a linked user with a deciding role in a project decides its requests from Slack.
- ``slack_link_codes``: the one-time codes ``foureyes users slack-link-code`` prints, kept only
  as a SHA-256 digest, each used at most once and before it expires.
- ``slack_messages``: the messages an escalation posted for a request (a thread reply under its
  first message, or a new message in another channel): where Slack put each one, so it is
  updated with the outcome like the first (``items.slack_message_ts``).
- ``projects.slack_bot_token``: the project's own bot token, sealed (``sealed:v1:``) like the
  webhook secrets; null: the server's.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on every backend (a batch copy would trip SQLite's foreign keys).
    op.add_column("projects", sa.Column("slack_bot_token", sa.Text(), nullable=True))
    op.create_table(
        "slack_users",
        sa.Column("slack_user_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("team_id", sa.String(64), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "slack_link_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "slack_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False, index=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("ts", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_messages")
    op.drop_table("slack_link_codes")
    op.drop_table("slack_users")
    op.drop_column("projects", "slack_bot_token")
