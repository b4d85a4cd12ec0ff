"""Every exception the foureyes SDK raises.

The tree::

    FoureyesError  (alias: HumanLayerException)
     ├── ConfigurationError        bad or missing settings; also a ValueError
     ├── TransportError            the server could not be reached or its answer was lost
     ├── APIError                  the server answered with an error envelope
     │    ├── InvalidRequestError  400 / 413 / 422: the request itself is wrong
     │    ├── AuthenticationError  401: missing or unknown API key
     │    ├── PermissionDeniedError 403: the key lacks the scope for this endpoint
     │    ├── NotFoundError        404: unknown call id (or another project's)
     │    ├── ConflictError        409: call id reused with another body, or already decided
     │    └── ServerError          5xx and anything else unexpected
     ├── ApprovalTimeout           the caller's deadline passed before a human decided;
     │                             also a TimeoutError
     ├── TerminalClosedError       terminal mode had no one to ask: stdin is closed;
     │                             also an EOFError
     ├── ReceiptError              an approval's signed receipt is missing, forged, or made
     │                             for another call or other arguments: nothing runs
     └── WebhookVerificationError  foureyes.webhooks.verify: a webhook's signature or
                                   timestamp is missing, wrong or stale; also a ValueError

    HumanLayerError                kept for code written against the HumanLayer SDK
     └── UserDeniedError           builds the terminal-mode denial text

Errors from httpx are translated once, at the transport boundary, with ``raise ... from exc``.
None of these ever means "approved": the SDK never runs a function after one of them.

This module imports nothing else from foureyes.
"""

from __future__ import annotations


class FoureyesError(Exception):
    """Base class of everything the SDK raises on purpose."""


HumanLayerException = FoureyesError


class ConfigurationError(FoureyesError, ValueError):
    pass


class TransportError(FoureyesError):
    pass


class ReceiptError(FoureyesError):
    """A decision's receipt does not prove it: ``reason`` is one of ``missing``, ``malformed``,
    ``unknown_key``, ``bad_signature``, ``wrong_call``, ``wrong_arguments``, ``wrong_outcome``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"receipt refused ({reason}): {message}")
        self.reason = reason


class APIError(FoureyesError):
    """The server answered with an error. ``code`` and ``message`` come from its JSON envelope."""

    def __init__(self, status_code: int, code: str, message: str, body: object = None) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.body = body


class InvalidRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class ServerError(APIError):
    pass


class ApprovalTimeout(FoureyesError, TimeoutError):  # noqa: N818 - reads as the event it is
    pass


class TerminalClosedError(FoureyesError, EOFError):
    pass


class WebhookVerificationError(FoureyesError, ValueError):
    pass


class HumanLayerError(Exception):
    pass


class UserDeniedError(HumanLayerError):
    pass


def api_error_for(status_code: int, code: str, message: str, body: object = None) -> APIError:
    """The most specific APIError subclass for an HTTP status."""
    cls: type[APIError]
    if status_code in (400, 413, 422):
        cls = InvalidRequestError
    elif status_code == 401:
        cls = AuthenticationError
    elif status_code == 403:
        cls = PermissionDeniedError
    elif status_code == 404:
        cls = NotFoundError
    elif status_code == 409:
        cls = ConflictError
    else:
        cls = ServerError
    return cls(status_code, code, message, body)
