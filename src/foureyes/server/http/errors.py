"""How an error is told to an HTTP client: the one place that knows status codes.

Every error is raised as a ``DomainError`` (``foureyes.server.domain.errors``) or is turned into
one here (Starlette's 404 / 405 and other ``HTTPException``, FastAPI's ``RequestValidationError``),
and ``install_error_handlers`` answers all of them with one handler. Under a path prefix that has
an error page (the inbox) the answer is that HTML page; everywhere else it is the JSON envelope::

    {"error": {"code": "...", "message": "...", "details": [...], "request_id": "..."}}

with ``Content-Type: application/json``; ``details`` appears only when there is something in it,
``request_id`` (also in the ``X-Request-ID`` header) whenever the error answers a request.
Anything else that escapes a route is logged and answered with a 500 envelope by
``CatchUnhandled``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foureyes.server.domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InternalError,
    InvalidInputError,
    InvalidJsonError,
    InvalidParameterError,
    LockedOutError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RequestTimeoutError,
    UnauthorizedError,
    UnavailableError,
    ValidationFailedError,
    details_from_pydantic,
)
from foureyes.server.http.request_id import current_request_id

logger = logging.getLogger(__name__)

# The most specific class in an error's MRO that is listed here gives its status and code.
_ANSWERS: dict[type[DomainError], tuple[int, str]] = {
    DomainError: (500, "internal_error"),
    InternalError: (500, "internal_error"),
    InvalidInputError: (422, "validation_error"),
    ValidationFailedError: (422, "validation_error"),
    InvalidParameterError: (400, "invalid_parameter"),
    InvalidJsonError: (400, "invalid_json"),
    UnauthorizedError: (401, "unauthorized"),
    ForbiddenError: (403, "forbidden"),
    NotFoundError: (404, "not_found"),
    MethodNotAllowedError: (405, "method_not_allowed"),
    RequestTimeoutError: (408, "request_timeout"),
    ConflictError: (409, "conflict"),
    PayloadTooLargeError: (413, "payload_too_large"),
    LockedOutError: (429, "too_many_requests"),
    UnavailableError: (503, "unavailable"),
}

# Starlette raises HTTPException by status (its router, StaticFiles, form parsing).
_FROM_STATUS: dict[int, type[DomainError]] = {
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

ErrorPage = Callable[[Request, int, DomainError], Awaitable[Response]]
"""Renders an error as a page of its own (for a path prefix given to install_error_handlers)."""


def status_and_code(exc: DomainError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        answer = _ANSWERS.get(cls)
        if answer is not None:
            return answer
    return _ANSWERS[DomainError]


def _headers(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, LockedOutError):
        return {"Retry-After": str(max(1, math.ceil(exc.seconds)))}
    return {}


def error_response(exc: DomainError) -> JSONResponse:
    """The JSON envelope for ``exc``, with its status code."""
    status, code = status_and_code(exc)
    body: dict[str, Any] = {"code": code, "message": exc.message}
    if exc.details:
        body["details"] = exc.details
    request_id = current_request_id.get()
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=status, headers=_headers(exc) or None)


def _as_domain_error(exc: Exception) -> tuple[DomainError, int | None, Mapping[str, str] | None]:
    """The domain error ``exc`` stands for, the status to answer when it is not that error's
    own, and headers it brings."""
    if isinstance(exc, DomainError):
        return exc, None, None
    if isinstance(exc, RequestValidationError):
        return (
            ValidationFailedError("the request is not valid", details_from_pydantic(exc.errors())),
            None,
            None,
        )
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        error: DomainError = NotFoundError("no such route")
    elif exc.status_code == 405:
        error = MethodNotAllowedError("method not allowed on this route")
    else:
        error = _FROM_STATUS.get(exc.status_code, InternalError)(str(exc.detail))
    return error, exc.status_code, exc.headers


def install_error_handlers(app: FastAPI, pages: Mapping[str, ErrorPage] | None = None) -> None:
    """One handler for every error a route raises. ``pages`` maps a path prefix (``"/inbox"``)
    to the page that renders errors under it; every other path gets the JSON envelope."""
    prefixes = dict(pages or {})

    def page_for(path: str) -> ErrorPage | None:
        for prefix, render in prefixes.items():
            if path == prefix or path.startswith(f"{prefix}/"):
                return render
        return None

    async def handle(request: Request, exc: Exception) -> Response:
        error, status, headers = _as_domain_error(exc)
        page = page_for(request.url.path)
        if page is not None:
            response = await page(request, status or status_and_code(error)[0], error)
        else:
            response = error_response(error)
            if status is not None:
                response.status_code = status
        if headers:
            response.headers.update(headers)
        return response

    for exc_class in (DomainError, StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(exc_class, handle)


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
            await error_response(InternalError("internal server error"))(scope, receive, send)
