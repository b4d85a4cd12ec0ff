"""The Slack channel's tables: signed interactions already handled, Slack users linked to
people, one-time link codes and the messages escalations posted. Part of ``schema.metadata``
(migrations 0013 and 0018)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from foureyes.storage.schema_base import UTCDateTime, metadata

slack_interactions = Table(
    "slack_interactions",
    metadata,
    # SHA-256 of a signed interaction request (signature, timestamp and body): handled once
    Column("digest", String(64), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False, index=True),
)

# A Slack user linked to a person by a one-time code (``/foureyes link``): one person each.
slack_users = Table(
    "slack_users",
    metadata,
    Column("slack_user_id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("team_id", String(64), nullable=True),
    Column("linked_at", UTCDateTime(), nullable=False),
)

slack_link_codes = Table(
    "slack_link_codes",
    metadata,
    # SHA-256 of the code: the code itself is printed once and kept nowhere
    Column("code_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

# A message an escalation posted for a request (its first is items.slack_message_ts): the
# channel asked for (``target``), the note and context it showed, and where Slack put it.
slack_messages = Table(
    "slack_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False, index=True),
    Column("target", String(64), nullable=False),
    Column("note", Text, nullable=True),
    Column("context", Text, nullable=True),
    Column("channel", String(64), nullable=True),
    Column("ts", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)
