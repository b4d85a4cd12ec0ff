"""The inbox's browser security: response headers, cookies and CSRF checks.

- Every response carries a strict Content-Security-Policy (no inline script or style, nothing
  from another origin, no framing), ``Referrer-Policy: no-referrer`` and ``nosniff``.
- The session cookie is HttpOnly and SameSite=Lax (a link from an email still arrives signed in);
  the pre-sign-in CSRF cookie is SameSite=Strict. Both are ``Secure`` when ``cookie_secure`` is set.
- Every state-changing form carries a CSRF token: the session's synchroniser token once signed
  in, and before that (sign-in, invitation) a double-submit token equal to the CSRF cookie. A
  request whose ``Origin`` is another origin is refused as well, whatever it carries.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foureyes.server.domain.errors import ForbiddenError
from foureyes.server.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

SESSION_COOKIE = "foureyes_session"
CSRF_COOKIE = "foureyes_csrf"


class SecurityHeaders:
    """Adds the headers above to every HTTP response (the JSON API's too: they cost nothing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in present]
                path = scope.get("path", "")
                private = path.startswith("/inbox") and not path.startswith("/inbox/static/")
                if private and b"cache-control" not in present:
                    # Pages show pending requests and tokens: never keep them in a cache.
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_max_age_seconds),
        path="/inbox",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/inbox", httponly=True, secure=settings.cookie_secure, samesite="lax"
    )


def anonymous_csrf_token(request: Request) -> str:
    """The double-submit token for forms shown before sign-in (the CSRF cookie's value)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    return existing if len(existing) >= 32 else secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        path="/inbox",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
    )


def check_origin(request: Request, settings: Settings) -> None:
    """Refuse a state-changing request sent by a page of another origin. Browsers send
    ``Origin`` with every POST, but as ``null`` under ``Referrer-Policy: no-referrer`` (which the
    inbox sets): an absent or null origin is left to the CSRF token."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    allowed = {f"{request.url.scheme}://{request.url.netloc}"}
    if settings.public_url:
        allowed.add(_origin_of(settings.public_url))
    if origin not in allowed:
        raise ForbiddenError("this form was sent from another site and was refused")


def check_token(sent: str | None, expected: str | None) -> None:
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ForbiddenError("the form's security token is missing or stale: reload the page and try again")


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
