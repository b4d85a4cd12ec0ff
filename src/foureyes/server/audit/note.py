"""Checkpoints as C2SP ``tlog-checkpoint`` notes, signed per C2SP ``signed-note`` with Ed25519.

A checkpoint's text is three lines, each ending in a newline: the log's origin, the tree size in
decimal, and the root hash in standard base64. The signed note is that text, a blank line, and
one line per signature: an em dash, a space, the key name, a space, and base64 of the key id
(4 bytes) followed by the 64-byte signature over the text. The key id is the first 4 bytes of
SHA-256(key name || 0x0A || 0x01 || public key), 0x01 being Ed25519's signature type. A verifier
key is written ``name+hex(key id)+base64(0x01 || public key)``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014 "


class NoteError(ValueError):
    """A note that is not a well-formed checkpoint, or whose signature does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public_key).digest()[:4]


def check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"a key name has no spaces or '+': {name!r}")
    return name


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(ED25519 + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """The name and public key of ``name+hexid+base64``; NoteError if malformed or inconsistent."""
    try:
        name, hex_id, encoded = vkey.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise NoteError("a verifier key reads name+keyid+base64") from None
    if raw[:1] != ED25519 or len(raw) != 33:
        raise NoteError("only Ed25519 verifier keys are supported")
    if key_id(name, raw[1:]).hex() != hex_id.lower():
        raise NoteError("the verifier key's id does not match its name and key")
    return name, raw[1:]


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def sign(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """The signed note: ``text``, a blank line, and this key's signature line."""
    signature = key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(key_id(name, public_bytes(key)) + signature).decode("ascii")
    return f"{text}\n{DASH}{name} {encoded}\n"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str


def open_note(note: str, name: str, public_key: bytes) -> Checkpoint:
    """The checkpoint in ``note`` once a signature by this key verifies; NoteError otherwise."""
    text, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text += "\n"
    wanted = key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for line in signatures[:-1].split("\n"):
        if not line.startswith(DASH):
            raise NoteError(f"not a signature line: {line!r}")
        signer, _, encoded = line[len(DASH) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError("a signature is not base64") from None
        if signer != name or raw[:4] != wanted:
            continue
        try:
            verifier.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise NoteError(f"the signature by {name} does not verify") from None
        return parse_checkpoint(text)
    raise NoteError(f"the note carries no signature by {name}")


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint has an origin, a size and a root hash, each on its line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size.startswith("0") and size != "0"):
        raise NoteError(f"the tree size {size!r} is not a decimal number")
    try:
        digest = base64.b64decode(root, validate=True)
    except ValueError:
        raise NoteError("the root hash is not base64") from None
    if len(digest) != 32:
        raise NoteError("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), digest, text)
