"""Inclusion proofs of an item's entries against the latest checkpoint, and checking them.

A proof document is JSON: the signed checkpoint note and the verifier key of its signer, and for
each entry of the item covered by the checkpoint its index, its exact bytes (``entry``) and its
audit path (base64 hashes, leaf end first). Entries appended after the checkpoint are listed
under ``not_checkpointed``. ``check_proof`` needs nothing but the document (and, to trust it,
the verifier key pinned from elsewhere): it verifies the note's signature, then each path.
"""

from __future__ import annotations

import base64
from typing import Any

from foureyes.server.audit import merkle, note
from foureyes.storage import Database
from foureyes.storage import audit as rows


def prove(db: Database, call_id: str, project_id: int | None = None) -> dict[str, Any]:
    with db.snapshot() as conn:
        checkpoint = rows.latest_checkpoint(conn)
        found = rows.for_call(conn, call_id, project_id)
        if checkpoint is None:
            return {
                "call_id": call_id,
                "checkpoint": None,
                "proofs": [],
                "not_checkpointed": [e.seq for e in found],
            }
        key = rows.keys(conn)[checkpoint.key_id]
        leaves = rows.leaf_hashes(conn, checkpoint.tree_size)
    size = checkpoint.tree_size
    return {
        "call_id": call_id,
        "checkpoint": checkpoint.note,
        "verifier_key": note.verifier_key(key.name, base64.b64decode(key.public_key)),
        "tree_size": size,
        "proofs": [
            {
                "index": entry.seq,
                "entry": entry.entry,
                "path": [
                    base64.b64encode(h).decode("ascii") for h in merkle.inclusion_path(entry.seq, leaves)
                ],
            }
            for entry in found
            if entry.seq < size
        ],
        "not_checkpointed": [entry.seq for entry in found if entry.seq >= size],
    }


def check_proof(document: dict[str, Any], verifier_key: str | None = None) -> list[str]:
    """What is wrong with a proof document (nothing: every entry is in the signed tree).
    Without ``verifier_key`` the document's own key is used, which proves consistency only."""
    if not document.get("checkpoint"):
        return ["no checkpoint covers these entries yet"]
    try:
        name, public = note.parse_verifier_key(verifier_key or document["verifier_key"])
        signed = note.open_note(document["checkpoint"], name, public)
    except (note.NoteError, KeyError) as exc:
        return [f"the checkpoint does not verify: {exc}"]
    problems = []
    for proof in document.get("proofs", []):
        index = int(proof["index"])
        leaf = merkle.leaf_hash(str(proof["entry"]).encode("utf-8"))
        path = [base64.b64decode(h) for h in proof["path"]]
        if not merkle.verify_inclusion(index, signed.size, leaf, path, signed.root):
            problems.append(f"entry {index} is not in the checkpointed tree")
    return problems
