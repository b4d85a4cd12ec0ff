"""Calls to Slack's Web API through slack_sdk's ``AsyncWebClient``, at ``FOUREYES_SLACK_API_URL``.

The client's own retry handlers are off: the outbox retries a delivery (with its backoff, and
no sooner than Slack's ``Retry-After``), and an interaction's calls must answer within Slack's
3 seconds or not at all. ``outcome`` turns a call's failure into the outbox's ``Attempt``: a
rate limit or a transient error is retried, an error no retry can mend (a bad token, an unknown
channel) fails the delivery at once.

slack_sdk and aiohttp are imported on first use: a server that never talks to Slack (and every
CLI command) would otherwise pay a third of a second for them at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from foureyes.server.outbox import Attempt
from foureyes.server.settings import Settings
from foureyes.storage import ItemRecord, credentials
from foureyes.storage import slack as slack_rows
from foureyes.storage.credentials import REDACTED
from foureyes.storage.sealing import SecretBox

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

# Slack's ``error`` codes that trying again cannot change.
PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "user_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "invalid_arguments",
        "message_not_found",
        "cant_update_message",
        "restricted_action",
    }
)
NOT_CONFIGURED = "Slack is not configured on this server (set FOUREYES_SLACK_BOT_TOKEN, or give a bot_token)"


def channel_slack(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The request's ``SlackContactChannel``, if it names one."""
    channel = spec.get("channel")
    found = channel.get("slack") if isinstance(channel, Mapping) else None
    return found if isinstance(found, Mapping) and found.get("channel_or_user_id") else None


def token_for(settings: Settings, slack: Mapping[str, Any] | None, project: str | None = None) -> str:
    """The request's own ``bot_token`` (opened from sealed storage by the caller), else the
    project's, else the server's; empty when there is none."""
    given = slack.get("bot_token") if slack else None
    return str(given) if given and given != REDACTED else (project or settings.slack_bot_token)


def request_token(conn: Connection, box: SecretBox, settings: Settings, item: ItemRecord) -> str:
    """The token to call Slack with about ``item``: its own ``bot_token``, kept sealed apart from
    its spec (which shows ``[redacted]``), else its project's (``foureyes projects
    slack-token``, sealed too), else the server's."""
    spec = credentials.restore(item.spec, credentials.opened(conn, box, item.id))
    project = slack_rows.project_token(conn, box, item.project_id)
    return token_for(settings, channel_slack(spec), project)


def client(settings: Settings, token: str, *, timeout: float = 10.0) -> AsyncWebClient:
    from slack_sdk.web.async_client import AsyncWebClient

    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return AsyncWebClient(token=token, base_url=base, timeout=int(max(1, timeout)), retry_handlers=[])


def outcome(exc: Exception) -> Attempt:
    """The outbox's record of a failed call."""
    import aiohttp
    from slack_sdk.errors import SlackApiError, SlackClientError

    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        code = str(exc.response.get("error") or "") if isinstance(exc.response.data, dict) else ""
        if status == 429:
            retry_after = _seconds(
                exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after"))
            )
            return Attempt(
                429, f"rate limited by Slack (Retry-After {retry_after:g} s)", retry_after=retry_after
            )
        message = f"Slack answered {status}: {code or 'error'}"
        return Attempt(status, message, permanent=code in PERMANENT)
    if isinstance(exc, (SlackClientError, aiohttp.ClientError, OSError, TimeoutError)):
        return Attempt(error=f"{type(exc).__name__}: {exc}"[:300])
    raise exc


def _seconds(raw: Any) -> float:
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        return 1.0
