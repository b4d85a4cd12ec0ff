"""Reviewers' passkeys (WebAuthn credentials) and the challenges handed out for them. Part of
``schema.metadata`` (migration 0019)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String, Table

from foureyes.storage.schema_base import UTCDateTime, metadata

# One registered passkey of one person. The public key is public: nothing here is secret.
passkeys = Table(
    "passkeys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    # the credential id the authenticator chose, base64url (WebAuthn allows up to 1023 bytes)
    Column("credential_id", String(1400), nullable=False, unique=True),
    # the COSE public key, as the authenticator gave it at registration
    Column("public_key", LargeBinary, nullable=False),
    # the authenticator's signature counter at its last use (0: it keeps none)
    Column("sign_count", Integer, nullable=False),
    # the name the person gave it ("work laptop")
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
)

# A challenge the server handed to a browser, used at most once: the row is deleted when an
# answer to it is checked (whether or not the answer is good), or pruned once it expired.
webauthn_challenges = Table(
    "webauthn_challenges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the random nonce the browser sends back with its answer
    Column("nonce_hash", String(64), nullable=False, unique=True),
    # "register", "sign_in" or "step_up"
    Column("purpose", String(16), nullable=False),
    # who asked (null when signing in: nobody is known yet)
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    # the challenge itself; for step-up it is derived from the decision and the nonce
    Column("challenge", LargeBinary, nullable=False),
    # step-up only: the request and the verdict the assertion is bound to ("approve",
    # "reject", "answer", or "approve:<digest of the edited arguments>")
    Column("item_id", Integer, ForeignKey("items.id"), nullable=True),
    Column("verdict", String(80), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)
