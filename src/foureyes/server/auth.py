"""API keys: how they look, how they are hashed, and which scope each endpoint needs.

A key is ``fe_`` plus 32 random bytes in URL-safe base64. Only its SHA-256 is stored: the key
is random and long, so a fast hash is enough (nothing to brute-force), and a lookup is one
indexed equality on the hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from foureyes.server.domain.errors import ForbiddenError, UnauthorizedError

KEY_PREFIX = "fe_"
DISPLAY_PREFIX_LENGTH = 10

AGENT = "agent"
RESPOND = "respond"
SCOPES = (AGENT, RESPOND)

PROJECT_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its project, what it may do and, for a reviewer's personal
    token, the person it belongs to."""

    key_id: int
    project_id: int
    scopes: frozenset[str]
    user_id: int | None = None

    def require(self, allowed: Iterable[str]) -> None:
        allowed = frozenset(allowed)
        if not self.scopes & allowed:
            needed = " or ".join(sorted(allowed))
            raise ForbiddenError(f"this API key lacks the scope for this endpoint (needs {needed})")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def bearer_token(authorization: str | None) -> str:
    """The key from an ``Authorization: Bearer <key>`` header, or 401."""
    if not authorization:
        raise UnauthorizedError("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("malformed Authorization header: expected 'Bearer <key>'")
    return token
