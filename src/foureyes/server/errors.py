"""Typed errors and the one JSON envelope every error answer uses.

Everything that goes wrong is raised as an ``ApiError`` subclass (or is mapped to one here) and
rendered by ``error_response``, so a client always gets::

    {"error": {"code": "...", "message": "...", "details": [...]}}

with ``Content-Type: application/json``; ``details`` appears only when there is something in it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class ApiError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = [dict(d) for d in details] if details else None
        self.headers = dict(headers) if headers else None


class InvalidJsonError(ApiError):
    status_code = 400
    code = "invalid_json"


class InvalidParameterError(ApiError):
    status_code = 400
    code = "invalid_parameter"


class UnauthorizedError(ApiError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(ApiError):
    status_code = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class MethodNotAllowedError(ApiError):
    status_code = 405
    code = "method_not_allowed"


class RequestTimeoutError(ApiError):
    status_code = 408
    code = "request_timeout"


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(ApiError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailedError(ApiError):
    status_code = 422
    code = "validation_error"


class InternalServerError(ApiError):
    status_code = 500
    code = "internal_error"


def field_error(loc: Sequence[str | int], message: str, kind: str = "value_error") -> dict[str, Any]:
    """One entry of ``details``: where the bad value is, what is wrong, and a stable kind."""
    return {"loc": list(loc), "message": message, "type": kind}


def details_from_pydantic(
    errors: Sequence[Mapping[str, Any]], prefix: Sequence[str | int] = ()
) -> list[dict[str, Any]]:
    # Only loc, msg and type: pydantic's `input` and `ctx` may hold anything, including
    # values that are not JSON-serialisable or that echo large request bodies back.
    return [
        field_error([*prefix, *error.get("loc", ())], str(error.get("msg", "")), str(error.get("type", "")))
        for error in errors
    ]


def validation_failed(exc: ValidationError, prefix: Sequence[str | int] = ()) -> ValidationFailedError:
    details = details_from_pydantic(exc.errors(), prefix)
    where = ", ".join(".".join(str(p) for p in d["loc"]) for d in details[:5])
    return ValidationFailedError(f"the request is not valid: {where}", details)


def error_response(exc: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        body["details"] = exc.details
    return JSONResponse({"error": body}, status_code=exc.status_code, headers=exc.headers)


_HTTP_STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: InvalidParameterError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: ValidationFailedError,
}


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_exception(_request: Request, exc: Exception) -> Response:
    # Starlette's router raises these for unknown routes (404) and wrong methods (405).
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        error: ApiError = NotFoundError("no such route")
    elif exc.status_code == 405:
        error = MethodNotAllowedError("method not allowed on this route")
    else:
        error = _HTTP_STATUS_ERRORS.get(exc.status_code, InternalServerError)(str(exc.detail))
    response = error_response(error)
    response.status_code = exc.status_code
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _request_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = details_from_pydantic(exc.errors())
    return error_response(ValidationFailedError("the request is not valid", details))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)


class CatchUnhandled:
    """Turns any unexpected exception into a 500 envelope, logging the traceback server-side.

    Starlette's own last-resort handler re-raises after answering, which makes the ASGI server
    log the traceback a second time; this middleware sits inside it and ends the matter.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(InternalServerError("internal server error"))(scope, receive, send)
