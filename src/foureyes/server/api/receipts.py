"""``GET /.well-known/foureyes/jwks.json``: the public keys that verify decision receipts.

Public and unauthenticated, like any JWKS: a receipt proves a decision to whoever holds the
keys, an agent or an auditor. Every key ever used is listed (the signing one first), so a
receipt signed before a rotation still verifies.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from foureyes._receipts import JWKS_PATH
from foureyes.server.api._common import service_of

router = APIRouter()


@router.get(JWKS_PATH)
async def jwks(request: Request) -> JSONResponse:
    found = await anyio.to_thread.run_sync(service_of(request).receipts.jwks)
    # Short, so a rotation reaches caches soon; clients refetch on an unknown kid anyway.
    return JSONResponse(found, headers={"Cache-Control": "public, max-age=60"})
