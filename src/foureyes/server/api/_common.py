"""What every route needs: the service, authentication, JSON bodies and query parameters."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import anyio.to_thread
from fastapi import Request
from pydantic import BaseModel, ValidationError

from foureyes.server.auth import Principal, bearer_token
from foureyes.server.domain.errors import (
    InvalidJsonError,
    InvalidParameterError,
    ValidationFailedError,
    field_error,
    validation_failed,
)
from foureyes.server.input_policy import load_json
from foureyes.server.service import Service
from foureyes.server.settings import Settings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def service_of(request: Request) -> Service:
    return cast(Service, request.app.state.service)


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a synchronous service call on a worker thread, off the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


@dataclass(frozen=True)
class Credentials:
    """A bearer key from the request, not yet looked up. ``as_principal`` checks it on the same
    worker thread that then does the request's work, so a request costs one thread hop, not two."""

    token: str
    allowed: frozenset[str]


def scoped(*scopes: str) -> Callable[[Request], Awaitable[Credentials]]:
    """A dependency that takes the key from the header (401 when missing or malformed); the key
    itself and its scopes (one of ``scopes``) are checked by ``as_principal``."""
    allowed = frozenset(scopes)

    # async, so FastAPI runs it on the event loop rather than on a worker thread of its own.
    async def credentials(request: Request) -> Credentials:
        return Credentials(bearer_token(request.headers.get("authorization")), allowed)

    return credentials


async def as_principal(request: Request, credentials: Credentials, work: Callable[[Principal], T]) -> T:
    """Authenticate ``credentials`` and run ``work`` as that principal, in one worker-thread call.
    A bad key or a missing scope fails before ``work`` runs, so it sees nothing of the request."""
    service = service_of(request)

    def run() -> T:
        principal = service.keys.authenticate(credentials.token)
        principal.require(credentials.allowed)
        return work(principal)

    return await in_thread(run)


def parse_json_object(raw: bytes, max_depth: int) -> dict[str, Any]:
    """The body as a JSON object within the input policy, or a clear 400/422."""
    if not raw.strip():
        raise InvalidJsonError("the request body is empty; send a JSON object")
    value = load_json(raw, max_depth)
    if not isinstance(value, dict):
        raise ValidationFailedError(
            "the request body must be a JSON object",
            [field_error(["body"], "must be a JSON object", "dict_type")],
        )
    return value


def parse_model(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_failed(exc, prefix=["body"]) from None


def wait_seconds(request: Request) -> float | None:
    """The ``wait`` query parameter: None when absent, else 0..long_poll_max_seconds."""
    raw = request.query_params.get("wait")
    if raw is None:
        return None
    limit = settings_of(request).long_poll_max_seconds
    message = f"wait must be a number of seconds between 0 and {limit:g}"
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterError(message) from None
    if not math.isfinite(value) or not 0 <= value <= limit:
        raise InvalidParameterError(message)
    return value


_INTEGER = re.compile(r"-?[0-9]{1,18}")


def int_param(request: Request, name: str, default: int) -> int:
    """A query parameter as an integer of at most 18 digits (so it always fits in a 64-bit
    column); the service checks the range that makes sense for it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        raise InvalidParameterError(f"{name} must be an integer of at most 18 digits")
    return int(raw)
