"""Every error the domain raises on purpose, with no HTTP in it.

The tree::

    DomainError                    message, plus field ``details`` when there are some
     ├── InvalidInputError         what was sent is wrong; also a ValueError
     │    ├── ValidationFailedError  a field of a request body (``details`` say which)
     │    ├── InvalidParameterError  a query or path parameter, a header, an admin argument
     │    ├── InvalidJsonError       a body that is not JSON at all
     │    └── InvitationError        a link that is unknown, used or expired
     ├── UnauthorizedError         no credentials, or ones that are unknown or revoked
     ├── ForbiddenError            known credentials without the right to do this
     │    └── StepUpRequiredError    a decision that needs a fresh passkey assertion, without one
     ├── NotFoundError             no such item, key, user, endpoint (or another project's)
     ├── ConflictError             already decided, or an id reused with another body
     ├── LockedOutError            too many failed sign-ins: try again in ``seconds``
     ├── PayloadTooLargeError      a body over the size limit
     ├── RequestTimeoutError       a body that did not arrive in time
     ├── MethodNotAllowedError     an operation that the target does not offer
     └── InternalError             a bug: the message is safe to show, the cause is logged

How each is told to a client (status code, JSON envelope or HTML page) is decided in one place,
``foureyes.server.http.errors``; the CLI prints the message. ``details`` entries are built with
``field_error``: ``{"loc": [...], "message": ..., "type": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError


class DomainError(Exception):
    """Base class of everything the domain raises on purpose. ``str(error)`` is the message."""

    def __init__(self, message: str, details: Sequence[Mapping[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = [dict(d) for d in details] if details else None


class InvalidInputError(DomainError, ValueError):
    pass


class ValidationFailedError(InvalidInputError):
    pass


class InvalidParameterError(InvalidInputError):
    pass


class InvalidJsonError(InvalidInputError):
    pass


class InvitationError(InvalidInputError):
    pass


class UnauthorizedError(DomainError):
    pass


class ForbiddenError(DomainError):
    pass


class StepUpRequiredError(ForbiddenError):
    pass


class NotFoundError(DomainError):
    pass


class ConflictError(DomainError):
    pass


class LockedOutError(DomainError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many failed sign-ins: try again in {max(1, round(seconds))} s")
        self.seconds = seconds


class PayloadTooLargeError(DomainError):
    pass


class RequestTimeoutError(DomainError):
    pass


class MethodNotAllowedError(DomainError):
    pass


class InternalError(DomainError):
    pass


class UnavailableError(DomainError):
    """The server cannot serve now (its database is unreachable or behind): try later."""


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
