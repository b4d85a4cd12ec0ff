"""The tables of what the server signs with and what it signs: the receipts' and Web Push's keys,
and the tamper-evident audit log with its checkpoints. Part of ``schema.metadata``."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from foureyes.storage.schema_base import UTCDateTime, metadata

# The Ed25519 keys that sign decision receipts (0011). The newest key not retired signs; every
# key stays listed in the JWKS so that old receipts still verify after a rotation.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # the RFC 7638 thumbprint of the public key: a receipt's kid
    Column("kid", String(64), nullable=False, unique=True),
    # the 32-byte public key, base64url
    Column("public_key", String(64), nullable=False),
    # the 32-byte private key, base64url, sealed with the key file's key (sealing.py)
    Column("private_key", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # set once a newer key signs; the key still verifies the receipts it signed
    Column("retired_at", UTCDateTime(), nullable=True),
)


# Keys the server makes for itself on first start, one row per name ("vapid": the key that signs
# its Web Push requests). The private half is sealed like the webhook secrets.
server_keys = Table(
    "server_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("sealed_private_key", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


# One row per change, the leaves of a Merkle tree (RFC 6962): ``seq`` is the dense index from 0,
# ``entry`` the canonical JSON that is hashed, ``leaf_hash`` its leaf hash (hex). ``kind``,
# ``project_id``, ``call_id`` and ``created_at`` repeat what the entry says, for finding rows.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("created_at", UTCDateTime(), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("project_id", Integer, nullable=True),
    Column("call_id", String(256), nullable=True, index=True),
    Column("entry", Text, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
)


# One row (id 1): the log's size. Appending updates it first, so writers queue on its row lock
# and every index is handed out once, in commit order.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", Integer, nullable=False),
)


# Ed25519 keys that sign checkpoints; ``name`` is the key name of the signed note (the log's
# origin), ``public_key`` base64, ``private_key`` sealed (sealing.py).
audit_keys = Table(
    "audit_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("public_key", String(64), nullable=False),
    Column("private_key", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


# Signed checkpoints: the tree's size and root (hex) and the whole C2SP note as signed.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tree_size", Integer, nullable=False),
    Column("root_hash", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("key_id", Integer, ForeignKey("audit_keys.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("tree_size", "key_id", name="uq_audit_checkpoints_tree_size"),
)
