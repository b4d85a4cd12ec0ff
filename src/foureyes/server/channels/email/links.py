"""Signed links in an email: decide one request, as one recipient.

A link is ``{FOUREYES_PUBLIC_URL}/email/{token}``; the token is the base64url JSON claim
``{p: project, k: kind, c: call_id, r: recipient, x: expiry}`` and an HMAC-SHA256 of it
under a key derived from the server's sealing key (``SecretBox.derive``), so every replica on the
same key file accepts it and nothing about it is stored. Changing any byte breaks the signature.

Single use follows from the request itself: a request is decided once, and a link to a decided
request only says so. The token is the credential: a GET shows the request and a form that
POSTs it back; nothing is decided without that POST, and no cookie is involved, so another site
cannot forge the form without the token. The action is a query parameter of the link
(``?approve=true``, ``?reject=true``, ``?option=NAME``, as HumanLayer's email templates use): it
only preselects the form; the POST says what is decided.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PURPOSE = "email-links/v1"


class BadLinkError(Exception):
    """A link that is not ours, was changed, or has expired: ``str(exc)`` says which."""


@dataclass(frozen=True)
class LinkClaim:
    project_id: int
    kind: str
    call_id: str
    recipient: str
    expires_at: int  # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, claim: LinkClaim) -> str:
        fields: dict[str, Any] = {
            "p": claim.project_id,
            "k": claim.kind,
            "c": claim.call_id,
            "r": claim.recipient,
            "x": claim.expires_at,
        }
        body = _b64(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, now: datetime) -> LinkClaim:
        body, _, mac = token.partition(".")
        try:
            good = hmac.compare_digest(self._mac(body), mac)
        except (TypeError, UnicodeEncodeError):
            good = False
        if not body or not good:
            raise BadLinkError("This link is not valid: it was not sent by this server, or it was changed.")
        fields = json.loads(_unb64(body))
        claim = LinkClaim(
            project_id=int(fields["p"]),
            kind=str(fields["k"]),
            call_id=str(fields["c"]),
            recipient=str(fields["r"]),
            expires_at=int(fields["x"]),
        )
        if now.timestamp() >= claim.expires_at:
            raise BadLinkError(
                "This link has expired. Ask for the request to be sent again, or decide it in the inbox."
            )
        return claim
