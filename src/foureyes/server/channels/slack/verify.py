"""The check every request from Slack passes first: its signature, its age, and that it is new.

A request is believed only when its ``X-Slack-Signature`` is the v0 HMAC-SHA256, under the
signing secret, of ``v0:{X-Slack-Request-Timestamp}:{raw body}`` and the timestamp is within
5 minutes of now (slack_sdk's ``SignatureVerifier``). Each signed request is handled once: its
digest is kept for the window, and the same request presented again changes nothing (a retry
from Slack, ``X-Slack-Retry-Num``, gets 200; anyone else 401). The interactions endpoint and
the slash command endpoint both start here.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from foureyes.storage import slack as slack_rows

WINDOW = timedelta(minutes=5)


def _signed(secret: str, body: bytes, headers: Any) -> bool:
    if not secret:
        return False
    try:
        from slack_sdk.signature import SignatureVerifier  # on first use: see api.py

        return SignatureVerifier(secret).is_valid_request(body, dict(headers))
    except (ValueError, UnicodeDecodeError):  # a timestamp that is not a number, a body not UTF-8
        return False


def _first_sighting(service: Any, digest: str) -> bool:
    now = datetime.now(UTC)
    with service.db.write() as tx:
        return slack_rows.first_sighting(tx.conn, digest, now=now, forget_before=now - 2 * WINDOW)


async def verified_body(request: Request) -> bytes | Response:
    """The raw body of a request Slack signed and that was not handled before, or the answer
    to give instead (401, or 200 to Slack's own retry of a request already handled)."""
    service = request.app.state.service
    body = await request.body()
    if not _signed(service.settings.slack_signing_secret, body, request.headers):
        return JSONResponse({"error": "bad or expired Slack signature"}, status_code=401)
    signed = f"{request.headers['x-slack-request-timestamp']}:{request.headers['x-slack-signature']}:"
    digest = hashlib.sha256(signed.encode("ascii", "replace") + body).hexdigest()
    if not await asyncio.to_thread(_first_sighting, service, digest):
        if request.headers.get("x-slack-retry-num"):
            return Response(status_code=200)  # handled the first time: nothing more to do
        return JSONResponse({"error": "this request from Slack was already handled"}, status_code=401)
    return body
