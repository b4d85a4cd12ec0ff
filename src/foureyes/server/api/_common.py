"""What every route needs: the service, authentication, JSON bodies and query parameters."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import anyio.to_thread
from fastapi import Request
from pydantic import BaseModel, ValidationError

from foureyes.server.auth import Principal, bearer_token
from foureyes.server.errors import (
    InvalidJsonError,
    InvalidParameterError,
    ValidationFailedError,
    field_error,
    validation_failed,
)
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


def scoped(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the key and requires one of ``scopes``."""
    allowed = frozenset(scopes)

    async def principal(request: Request) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        found = await in_thread(service_of(request).authenticate, token)
        found.require(allowed)
        return found

    return principal


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would fail later, when echoing them back.
    raise ValueError(f"{name} is not valid JSON")


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise InvalidJsonError("the request body is empty; send a JSON object")
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise InvalidJsonError("the request body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidJsonError(f"the request body is not valid JSON: {exc}") from None
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


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameterError(f"{name} must be an integer") from None
