"""The tables, as SQLAlchemy Core objects.

The migrations in ``migrations/versions`` create exactly these (a test compares the two); the
repositories (``items.py``, ``keys.py`` ...) query them. Only portable types are used, so the same
schema runs on SQLite and PostgreSQL. JSON is kept as text: it is stored and echoed, never
queried inside.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from foureyes.storage import group_schema, passkey_schema, slack_schema, trust_schema
from foureyes.storage.schema_base import UTCDateTime, metadata

# The keys the server signs with, and the tamper-evident log, are declared in trust_schema.py,
# reviewers' passkeys in passkey_schema.py, the Slack channel's in slack_schema.py, approver
# groups in group_schema.py (same metadata); all are named here too, so every table is found in this module.
signing_keys = trust_schema.signing_keys
server_keys = trust_schema.server_keys
audit_log = trust_schema.audit_log
audit_head = trust_schema.audit_head
audit_keys = trust_schema.audit_keys
audit_checkpoints = trust_schema.audit_checkpoints
passkeys = passkey_schema.passkeys
webauthn_challenges = passkey_schema.webauthn_challenges
slack_interactions = slack_schema.slack_interactions
slack_users = slack_schema.slack_users
slack_link_codes = slack_schema.slack_link_codes
slack_messages = slack_schema.slack_messages
project_groups = group_schema.project_groups
project_group_members = group_schema.project_group_members


projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # the deadline of a request that names none, in seconds after it was made; null: none (0008)
    Column("expires_after_seconds", Integer, nullable=True),
    # JSON list of ContactChannel objects a request that names no channel goes to; null: none (0009)
    Column("default_channels", Text, nullable=True),
    # only foureyes people with a deciding role may decide through an email link (0009)
    Column("email_deciders_members_only", Boolean, nullable=False, server_default=false()),
    # JSON list of escalation steps ({"after_seconds": n, "channels": [...]}), by delay; null: none (0016)
    Column("escalation_steps", Text, nullable=True),
    # its requests need a fresh passkey assertion to be decided (step-up) (0019)
    Column("step_up", Boolean, nullable=False, server_default=false()),
    # the project's Slack bot token, sealed (sealing.py); null: the server's (0018)
    Column("slack_bot_token", Text, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=True),
    Column("prefix", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    # space-separated, e.g. "agent respond"
    Column("scopes", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    # set for a reviewer's personal token: what it decides is attributed to this user (0003)
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    # "function_call" or "human_contact"
    Column("kind", String(32), nullable=False),
    Column("call_id", String(256), nullable=False),
    Column("run_id", String(256), nullable=False),
    Column("spec", Text, nullable=False),
    Column("request_digest", String(64), nullable=False),
    Column("spec_digest", String(64), nullable=False),
    # "pending", "approved", "rejected", "answered" or "expired"; denormalised from decisions
    Column("state", String(32), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
    # when a pending item completes as expired; null: it waits indefinitely (0008)
    Column("expires_at", UTCDateTime(), nullable=True),
    # the Slack message showing it: the channel Slack posted to and the message's ts (0013)
    Column("slack_channel", String(64), nullable=True),
    Column("slack_message_ts", String(64), nullable=True),
    # whether a reviewer may edit the arguments before approving (create-body extension
    # allow_edit); null counts as false (0011)
    Column("allow_edit", Boolean(name="ck_items_allow_edit"), nullable=True),
    # how many distinct people must approve; null: one (0010)
    Column("required_approvals", Integer, nullable=True),
    # the person whose key created it, who may not approve it; null: an agent key of no one (0010)
    Column("creator_user_id", Integer, nullable=True),
    # the channels a policy routed it to, space-separated (0010)
    Column("routes", String(500), nullable=True),
    # how many of its project's escalation steps it has had; they fire in order (0016)
    Column("escalation_steps_done", Integer, nullable=False, server_default=text("0")),
    # its own escalation steps, given by a policy's escalate: action, instead of its project's
    # chain: JSON [{"after_seconds", "channels"}] (null: the project's chain), and when the next
    # of them is due (null: none left) (0022)
    Column("escalation_steps", Text, nullable=True),
    Column("next_escalation_at", UTCDateTime(), nullable=True),
    Index("ix_items_own_escalation", "state", "next_escalation_at"),
    # deciding it needs a fresh passkey assertion; copied from its project, a policy may set it (0019)
    Column("step_up", Boolean, nullable=False, server_default=false()),
    # the approver groups its requirement names, space-separated, and from how many distinct
    # ones of them approvals are needed (domain/approvers.py); null: no group requirement (0021)
    Column("approver_groups", Text, nullable=True),
    Column("approver_groups_needed", Integer, nullable=True),
    UniqueConstraint("project_id", "kind", "call_id", name="uq_items_project_kind_call"),
    Index("ix_items_pending", "project_id", "kind", "state", "requested_at"),
    Index("ix_items_expiry", "state", "expires_at"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False, index=True),
    # "approved", "rejected", "answered" or "expired"
    Column("verdict", String(32), nullable=False),
    Column("comment", Text, nullable=True),
    Column("option_name", String(256), nullable=True),
    Column("response", Text, nullable=True),
    Column("actor_key_id", Integer, ForeignKey("api_keys.id"), nullable=True),
    Column("channel", String(32), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("spec_digest", String(64), nullable=False),
    # the person who decided, when known (inbox session or personal token) (0003)
    Column("actor_user_id", Integer, ForeignKey("users.id"), nullable=True),
    # who decided when that is no person of the server: an email link's recipient (0007)
    Column("actor_address", String(320), nullable=True),
    # the arguments a reviewer edited and approved (JSON), null when approved as asked (0011)
    Column("edited_kwargs", Text, nullable=True),
    # the signed receipt of this decision: a compact JWS (foureyes._receipts) (0011)
    Column("receipt", Text, nullable=True),
    # the rule that decided automatically (0010)
    Column("policy", String(100), nullable=True),
    # the deciding person's display name as it was when they decided (0020)
    Column("actor_name", String(200), nullable=True),
    # the passkey whose step-up assertion backed this decision (credential id, base64url) (0019)
    Column("step_up_credential", String(1400), nullable=True),
    # of its item's approver groups, those the approver was in when approving, space-separated (0021)
    Column("approver_groups", Text, nullable=True),
)


# A project's rules, evaluated in position order at create time; the first match wins (0010).
policies = Table(
    "policies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("position", Integer, nullable=False),
    # CEL, compiled when the rule is added
    Column("expression", Text, nullable=False),
    # "approve", "reject", "require:N", "require:all_of(A,B)", "require:N+all_of(A,B)",
    # "route:TARGET[,TARGET]" or
    # "escalate:DELAY>TARGET[;...]" (server/domain/rules.py); 1000 since 0022, for escalate's steps
    Column("action", String(1000), nullable=False),
    Column("comment", Text, nullable=True),
    # a shadow rule records what it would have done and decides nothing
    Column("shadow", Boolean(name="ck_policies_shadow"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_policies_project_name"),
)

# Every change, appended by the domain's one event writer (``emit``), in the transaction of the
# change: to an item (item_id set) or to a project's settings (keys, people, endpoints) (0006).
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=True, index=True),
    # e.g. "created", "decided", "escalated", "key_created", "endpoint_added"
    Column("type", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("actor_key_id", Integer, ForeignKey("api_keys.id"), nullable=True),
    Column("channel", String(32), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # null only for a change that belongs to no project (a person added without a role)
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=True, index=True),
    Column("actor_user_id", Integer, ForeignKey("users.id"), nullable=True),
)


# Credentials an agent or an admin put inside contact channels (a Slack bot_token ...), taken out
# of the spec or the project's channels, which hold "[redacted]" in their place (credentials.py,
# 0017). One row per thing holding channels: a request's spec or an escalation of it (item_id),
# a project's default channels or escalation steps (project_id).
channel_secrets = Table(
    "channel_secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=True, index=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=True, index=True),
    # "spec", "escalation", "default_channels" or "escalation_steps"
    Column("part", String(32), nullable=False),
    # JSON list of [path, value] pairs, sealed with the key file's key (sealing.py)
    Column("secrets", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


# ---------------------------------------------------------------- webhooks (migration 0002)

# A sealed secret is longer than a plain one's 100 characters: TEXT since 0005 on PostgreSQL.
# SQLite never enforced the length, and changing the declared type there would mean rebuilding
# a table other rows refer to, so it keeps VARCHAR(100) in name only.
_SEALED = Text().with_variant(String(100), "sqlite")

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    # space-separated event types, e.g. "function_call.created function_call.completed"
    Column("events", String(500), nullable=False),
    Column("enabled", Boolean(name="ck_webhook_endpoints_enabled"), nullable=False),
    # Sealed with the key file's key (sealing.py, migration 0005): the server needs the secret
    # itself to sign, but a copy of the database alone must not be enough to. Shown to the
    # operator once, at creation.
    Column("secret", _SEALED, nullable=False),
    # After a rotation the old secret also signs until previous_secret_expires_at.
    Column("previous_secret", _SEALED, nullable=True),
    Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# The durable outbox (0006): one row per (event, sink, target), written by the sinks' fan-out in
# the transaction of the change, drained by the outbox worker. Webhooks are the sink "webhook",
# whose target is the endpoint's id.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sink", String(32), nullable=False),
    Column("target", String(320), nullable=False),
    # null for a delivery that belongs to no item (a test event)
    Column("item_id", Integer, ForeignKey("items.id"), nullable=True),
    Column("event_type", String(64), nullable=False),
    # the same on every retry, so receivers can de-duplicate (Standard Webhooks' webhook-id)
    Column("message_id", String(64), nullable=False, unique=True),
    # what the sink sends, frozen when the change was committed
    Column("payload", Text, nullable=False),
    # "pending", "succeeded" or "failed"
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    # retries stop at this moment; the delivery is then failed
    Column("expires_at", UTCDateTime(), nullable=False),
    # a worker's lease: another worker leaves the row alone until then
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_order", "sink", "target", "item_id", "status"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("attempted_at", UTCDateTime(), nullable=False),
    # the answer's status where there is one (an HTTP status); null when none came back
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
)


# ---------------------------------------------------------------- people (migration 0003)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # stored lower-cased, so sign-in is case-insensitive
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    # argon2id (PHC string); null until the person sets one through an invitation link
    Column("password_hash", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    # "admin", "reviewer" or "viewer"
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id", "project_id", name="uq_memberships_user_project"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the random token in the link; the link itself is shown once
    Column("token_hash", String(64), nullable=False, unique=True),
    # null for the first-admin setup link: whoever opens it chooses the address
    Column("email", String(320), nullable=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("role", String(16), nullable=False),
    # "invite" or "setup"
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the cookie value
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    # the synchroniser token every state-changing form of this session must carry
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# ---------------------------------------------------------------- sign-in throttling (migration 0004)

login_throttle = Table(
    "login_throttle",
    metadata,
    # SHA-256 of the scope and what it counts (an account, an address, or both): no address or
    # typed-in name is kept in clear, and any input fits the column
    Column("key", String(64), primary_key=True),
    # "account+address", "address" or "account"
    Column("scope", String(16), nullable=False),
    # failed sign-ins counted, including those whose password is still being checked
    Column("failures", Integer, nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
    # when the row is forgotten (and pruned): a while after the last failure or the lock's end
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)


# ---------------------------------------------------------------- Web Push (migration 0014)


# A browser's push subscription, turned on by one person for one project. One browser (one
# endpoint) belongs to one person at a time: the last to turn it on.
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("endpoint", Text, nullable=False),
    # the browser's ECDH P-256 public key and auth secret (base64url), to encrypt for it
    Column("p256dh", String(128), nullable=False),
    Column("auth", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("project_id", "endpoint", name="uq_push_subscriptions_project_endpoint"),
)
