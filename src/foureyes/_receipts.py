"""Decision receipts: compact JWS (RFC 7515) signed with Ed25519, checked before a function runs.

The server signs one receipt for every decision it records (a person's, a rule's or the
deadline's); our SDK checks an approval's receipt against the server's JWKS before it runs the
function, and ``foureyes receipts verify`` checks any receipt offline. Both ends live here, in
the SDK, so the two cannot disagree about a byte.

A receipt's header is ``{"alg": "Ed25519", "kid": ..., "typ": "foureyes-receipt+jwt"}`` (the
fully-specified name of RFC 9864; ``EdDSA`` with an Ed25519 key is accepted when verifying).
Its claims::

    iss          "foureyes"
    call_id      the request's call id            project  the project's slug
    kind         function_call | human_contact    fn       the function (function calls)
    args_sha256  SHA-256 (hex) of the RFC 8785 canonical JSON of the arguments that were decided
                 on: the edited ones when a reviewer edited them; of {"msg", "subject"} for a
                 question
    edited       whether a reviewer edited the arguments
    outcome      approved | rejected | expired | responded
    response_sha256  SHA-256 of the answer's text (questions)
    decided_by   {"email", "name", "key_id"} of whoever decided (all null on expiry)
    channel      inbox | api | email | deadline | ...
    decided_at   RFC 3339; iat the same as a NumericDate
    expires_at   the request's deadline (RFC 3339), or null

``kid`` is the RFC 7638 thumbprint of the signing key. This module imports nothing of the
server; it needs ``cryptography`` and ``rfc8785``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from foureyes._exceptions import ReceiptError

SIGNING_ALG = "Ed25519"
# RFC 9864 deprecates "EdDSA" for the fully-specified "Ed25519"; receipts signed by other tools
# under the old name still verify when the key is an Ed25519 one.
ACCEPTED_ALGS = frozenset({"Ed25519", "EdDSA"})
RECEIPT_TYPE = "foureyes-receipt+jwt"
ISSUER = "foureyes"
JWKS_PATH = "/.well-known/foureyes/jwks.json"

APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
RESPONDED = "responded"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    if not isinstance(text, str) or "=" in text:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes; ``ValueError`` for what it cannot represent (an integer beyond
    2**53, NaN, a non-string key)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise ValueError(f"the arguments have no RFC 8785 canonical form: {exc}") from exc


def arguments_digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def claims(
    *,
    call_id: str,
    project: str,
    kind: str,
    fn: str | None,
    arguments_sha256: str | None,
    edited: bool,
    outcome: str,
    response: str | None,
    decided_by: Mapping[str, Any],
    channel: str,
    decided_at: datetime,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """The claims of one receipt, in the order the module docstring lists them."""
    found: dict[str, Any] = {"iss": ISSUER, "call_id": call_id, "project": project, "kind": kind}
    if fn is not None:
        found |= {"fn": fn, "args_sha256": arguments_sha256, "edited": edited}
    else:
        found["args_sha256"] = arguments_sha256
    if response is not None:
        found["response_sha256"] = text_digest(response)
    return found | {
        "outcome": outcome,
        "decided_by": dict(decided_by),
        "channel": channel,
        "decided_at": decided_at.isoformat(),
        "iat": int(decided_at.timestamp()),
        "expires_at": None if expires_at is None else expires_at.isoformat(),
    }


# ---------------------------------------------------------------------------- keys


def new_private_key() -> bytes:
    """A fresh Ed25519 private key, as its 32 raw bytes."""
    return Ed25519PrivateKey.generate().private_bytes_raw()


def public_of(private: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def thumbprint(public: bytes) -> str:
    """The RFC 7638 thumbprint of the public key's JWK: its ``kid``."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(public)}
    text = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(text.encode("ascii")).digest())


def public_jwk(public: bytes) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(public),
        "kid": thumbprint(public),
        "alg": SIGNING_ALG,
        "use": "sig",
    }


def load_jwks(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A JWKS given as a mapping, or read from a JSON file."""
    if isinstance(source, Mapping):
        jwks = dict(source)
    else:
        try:
            jwks = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReceiptError("unknown_key", f"cannot read the JWKS {source}: {exc}") from exc
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ReceiptError("unknown_key", "a JWKS is a JSON object with a list of keys")
    return jwks


def _key_for(jwks: Mapping[str, Any], kid: str) -> Ed25519PublicKey:
    for jwk in jwks.get("keys") or ():
        if isinstance(jwk, Mapping) and jwk.get("kid") == kid:
            if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                raise ReceiptError("unknown_key", f"key {kid!r} is not an Ed25519 key")
            try:
                return Ed25519PublicKey.from_public_bytes(unb64url(jwk["x"]))
            except (KeyError, ValueError, binascii.Error) as exc:
                raise ReceiptError("unknown_key", f"key {kid!r} is malformed") from exc
    raise ReceiptError("unknown_key", f"no key {kid!r} in the JWKS")


# ---------------------------------------------------------------------------- sign and verify


def sign(claims: Mapping[str, Any], private: bytes) -> str:
    """The compact JWS of ``claims`` signed with ``private`` (its thumbprint as ``kid``)."""
    return sign_with(claims, Ed25519PrivateKey.from_private_bytes(private), thumbprint(public_of(private)))


def sign_with(claims: Mapping[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    """``sign`` with the key already loaded and its ``kid`` known (a server signing many)."""
    header = {"alg": SIGNING_ALG, "kid": kid, "typ": RECEIPT_TYPE}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    )
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


def header_of(token: str) -> dict[str, Any]:
    """The protected header, unverified (to find the ``kid``)."""
    return _parts(token)[0]


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if not isinstance(token, str) or token.count(".") != 2:
        raise ReceiptError("malformed", "a receipt is a compact JWS: three base64url parts")
    head, body, signature = token.split(".")
    try:
        header = json.loads(unb64url(head))
        claims = json.loads(unb64url(body))
        raw_signature = unb64url(signature)
    except (ValueError, binascii.Error) as exc:
        raise ReceiptError("malformed", f"a part is not base64url JSON: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ReceiptError("malformed", "the header and the claims must be JSON objects")
    return header, claims, f"{head}.{body}".encode("ascii"), raw_signature


def verify(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks out with a key of ``jwks``."""
    header, claims, signing_input, signature = _parts(token)
    if header.get("alg") not in ACCEPTED_ALGS:
        raise ReceiptError("malformed", f"alg {header.get('alg')!r} is not Ed25519")
    if set(header.get("crit") or ()):
        raise ReceiptError("malformed", "critical header parameters are not understood")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise ReceiptError("unknown_key", "the receipt names no key (kid)")
    try:
        _key_for(jwks, kid).verify(signature, signing_input)
    except InvalidSignature:
        raise ReceiptError("bad_signature", f"the signature does not match key {kid!r}") from None
    return claims


def check_approval(
    token: str | None,
    jwks: Mapping[str, Any],
    *,
    call_id: str,
    fn: str,
    arguments: Mapping[str, Any],
    edited: bool,
) -> dict[str, Any]:
    """The claims of an approval's receipt, checked to approve exactly this call of ``fn`` with
    exactly ``arguments`` (the ones that will run); ``ReceiptError`` otherwise."""
    if not token:
        raise ReceiptError("missing", f"the approval of {call_id!r} carries no receipt")
    claims = verify(token, jwks)
    if claims.get("call_id") != call_id or claims.get("kind") != "function_call":
        raise ReceiptError("wrong_call", f"the receipt is for {claims.get('call_id')!r}, not {call_id!r}")
    if claims.get("fn") != fn:
        raise ReceiptError("wrong_call", f"the receipt is for function {claims.get('fn')!r}, not {fn!r}")
    if claims.get("outcome") != APPROVED:
        raise ReceiptError("wrong_outcome", f"the receipt says {claims.get('outcome')!r}, not approved")
    if claims.get("args_sha256") != arguments_digest(dict(arguments)) or bool(claims.get("edited")) != edited:
        raise ReceiptError("wrong_arguments", "the receipt was signed over other arguments")
    return claims
