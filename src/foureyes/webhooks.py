"""Verify the webhooks a foureyes server sends (the Standard Webhooks signature scheme).

A receiver passes the raw request body and headers::

    from foureyes.webhooks import verify

    envelope = verify(body_bytes, request.headers, secret="whsec_...")
    envelope["type"]             # "function_call.completed", ...
    envelope["event"]["spec"]["state"]

The signature is ``v1,<base64 HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{body}")>`` where
``key`` is the base64-decoded part of the ``whsec_`` secret. During a secret rotation the header
carries several space-separated signatures; any one matching is enough, and ``secret`` may be a
list so a receiver can accept the old and the new secret while it switches over.

This module imports nothing of the server (only the standard library and ``_exceptions``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from foureyes._exceptions import WebhookVerificationError

__all__ = ["SECRET_PREFIX", "WebhookVerificationError", "generate_secret", "sign", "verify"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE = 300


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the webhook secret is not whsec_<base64>") from None


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` under ``secret``."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        # plain dicts are case-sensitive; HTTP header names are not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if not value:
        raise WebhookVerificationError(f"the {name} header is missing")
    return value


def verify(
    payload: bytes,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """The webhook's JSON body, once its signature and timestamp are checked.

    Raises ``WebhookVerificationError`` when a header is missing, no signature matches any of
    the secrets, or the timestamp is more than ``tolerance`` seconds from ``now`` (either way:
    an old one may be a replay, a future one is forged or from a bad clock).
    """
    webhook_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature").split()
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("the webhook-timestamp header is not an integer") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("the webhook timestamp is too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("the webhook timestamp is in the future")
    secret_list = [secret] if isinstance(secret, str) else list(secret)
    if not secret_list:
        raise WebhookVerificationError("no secret to verify the webhook with")
    offered = [s.encode() for s in signatures if s.startswith("v1,")]
    for candidate in secret_list:
        expected = sign(candidate, webhook_id, timestamp, payload).encode()
        if any(hmac.compare_digest(expected, given) for given in offered):
            break
    else:
        raise WebhookVerificationError("no webhook signature matches the secret")
    try:
        body = json.loads(payload)
    except ValueError:
        raise WebhookVerificationError("the webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise WebhookVerificationError("the webhook body is not a JSON object")
    return body
