"""RFC 6962 Merkle tree hashing (as restated in RFC 9162 section 2.1): leaves, roots, proofs.

A leaf's hash is SHA-256(0x00 || entry), an interior node's SHA-256(0x01 || left || right); a
tree of n > 1 leaves splits at k, the largest power of two below n, so the left subtree is
always perfect. The empty tree's hash is SHA-256 of nothing. ``Frontier`` keeps only the roots
of the perfect subtrees a log of n leaves is made of (one per bit of n), so the root after each
append costs O(log n) and a whole log is hashed in one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """A log's size and the roots of its perfect subtrees, largest (leftmost) first."""

    def __init__(self) -> None:
        self.size = 0
        self._roots: list[tuple[int, bytes]] = []  # (subtree size, its root)

    def append(self, leaf: bytes) -> None:
        size, node = 1, leaf
        while self._roots and self._roots[-1][0] == size:
            left_size, left = self._roots.pop()
            size, node = left_size + size, node_hash(left, node)
        self._roots.append((size, node))
        self.size += 1

    def root(self) -> bytes:
        if not self._roots:
            return EMPTY_ROOT
        node = self._roots[-1][1]
        for _, left in reversed(self._roots[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root over these leaf hashes."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 6962 PATH), leaf end first."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    # Walk down from the root, noting the sibling subtree at each split; reversed at the end.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(root_of(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(root_of(leaves[lo : lo + k]))
            lo = lo + k
    path.reverse()
    return path


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``path`` proves ``leaf`` is leaf ``index`` of the tree of ``size`` with ``root``
    (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root
