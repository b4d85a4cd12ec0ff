"""The tamper-evident audit log: every change appended as a leaf of an RFC 6962 Merkle tree,
with signed C2SP checkpoints.

- ``merkle``: leaf and node hashing, roots, inclusion proofs
- ``note``: checkpoints as signed notes (Ed25519)
- ``log``: ``AuditLog``, appending (in the change's transaction) and signing checkpoints
- ``verify``: recompute the tree and compare it with the checkpoints and the stored rows
- ``proofs``, ``export``: an item's inclusion proofs, the log as JSON lines or CSV
- ``task``: the server's periodic checkpoint
"""

from foureyes.server.audit.log import AuditLog

__all__ = ["AuditLog"]
