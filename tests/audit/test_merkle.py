"""RFC 6962 hashing against the RFC's own definitions, written out recursively, and against the
empty tree's and one leaf's hash; checkpoint notes signed and opened per C2SP signed-note."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from foureyes.server.audit import merkle, note


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(data: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 section 2.1 defines it."""
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(data[:k]) + mth(data[k:])).digest()


def path(m: int, data: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) exactly as RFC 6962 section 2.1.1 defines it."""
    n = len(data)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, data[:k]), mth(data[k:])]
    return [*path(m - k, data[k:]), mth(data[:k])]


DATA = [bytes([i]) * (i % 5) + str(i).encode() for i in range(70)]


def test_the_empty_tree_and_a_single_leaf() -> None:
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.root_of([]) == merkle.EMPTY_ROOT
    # SHA-256(0x00): the leaf hash of an empty entry
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_the_certificate_transparency_vectors() -> None:
    # The eight leaves of the reference test suite of RFC 6962's authors, and its roots.
    leaves = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")]
    leaves.append(bytes.fromhex("606162636465666768696a6b6c6d6e6f"))
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    assert merkle.root_of(hashes).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert (
        merkle.root_of(hashes[:3]).hex() == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"
    )


@pytest.mark.parametrize("size", range(70))
def test_roots_match_the_recursive_definition(size: int) -> None:
    leaves = [merkle.leaf_hash(d) for d in DATA[:size]]
    assert merkle.root_of(leaves) == mth(DATA[:size])
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert (frontier.size, frontier.root()) == (size, mth(DATA[:size]))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 69])
def test_inclusion_paths_match_the_definition_and_verify(size: int) -> None:
    leaves = [merkle.leaf_hash(d) for d in DATA[:size]]
    root = mth(DATA[:size])
    for index in range(size):
        proof = merkle.inclusion_path(index, leaves)
        assert proof == path(index, DATA[:size])
        assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
        # the wrong leaf, the wrong index or a cut path do not verify (the size alone may: a
        # left leaf's path can be the same in a larger tree; the signed checkpoint binds it)
        other = leaves[(index + 1) % size]
        assert size == 1 or not merkle.verify_inclusion(index, size, other, proof, root)
        assert not merkle.verify_inclusion(index, index, leaves[index], proof, root)
        assert not proof or not merkle.verify_inclusion(index, size, leaves[index], proof[:-1], root)
        if size > 1:
            assert not merkle.verify_inclusion((index + 1) % size, size, leaves[index], proof, root)


def test_a_checkpoint_note_is_signed_and_opened() -> None:
    key = Ed25519PrivateKey.generate()
    public = note.public_bytes(key)
    root = merkle.root_of([merkle.leaf_hash(b"x")])
    text = note.checkpoint_text("example.com/audit", 1, root)
    assert text == f"example.com/audit\n1\n{base64.b64encode(root).decode()}\n"
    signed = note.sign(text, "example.com/audit", key)
    head, signature = signed.split("\n\n")
    assert head + "\n" == text
    assert signature.startswith("\u2014 example.com/audit ")
    assert signature.endswith("\n")
    raw = base64.b64decode(signature.split(" ")[2])
    assert raw[:4] == hashlib.sha256(b"example.com/audit\n\x01" + public).digest()[:4]
    assert len(raw) == 68
    opened = note.open_note(signed, "example.com/audit", public)
    assert (opened.origin, opened.size, opened.root) == ("example.com/audit", 1, root)
    vkey = note.verifier_key("example.com/audit", public)
    assert note.parse_verifier_key(vkey) == ("example.com/audit", public)
    with pytest.raises(note.NoteError):
        note.open_note(signed.replace("\n1\n", "\n2\n"), "example.com/audit", public)
    with pytest.raises(note.NoteError):
        note.open_note(signed, "example.com/audit", note.public_bytes(Ed25519PrivateKey.generate()))
