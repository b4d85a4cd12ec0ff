"""``humanlayer.core.models_agent_webhook``: the webhook payloads, as pydantic models.

A foureyes server sends HumanLayer's v1beta2 envelope (``docs/webhooks.md``), so a receiver
written for HumanLayer parses it unchanged::

    from foureyes.core.models_agent_webhook import V1Beta2FunctionCallCompleted
    from foureyes.webhooks import verify

    payload = V1Beta2FunctionCallCompleted.model_validate(verify(body, headers, secret))

The email and Slack "agent inbound" payloads are here for code that imports them; a foureyes
server does not send them (it has no inbound agent email or Slack yet).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from foureyes.models import FunctionCall, HumanContact

__all__ = [
    "EmailMessage",
    "EmailPayload",
    "FunctionCall",
    "HumanContact",
    "SlackMessage",
    "SlackThread",
    "V1Beta2EmailEventReceived",
    "V1Beta2FunctionCallCompleted",
    "V1Beta2HumanContactCompleted",
    "V1Beta2SlackEventReceived",
]


class EmailMessage(BaseModel):
    """One message of an email thread."""

    from_address: str
    to_address: list[str]
    cc_address: list[str]
    bcc_address: list[str]
    subject: str
    content: str
    datetime: str


class EmailPayload(BaseModel):
    """An email sent to an agent's address."""

    from_address: str
    to_address: str
    subject: str
    body: str
    message_id: str
    previous_thread: list[EmailMessage] | None = None
    raw_email: str
    is_test: bool | None = None


class SlackMessage(BaseModel):
    from_user_id: str
    channel_id: str
    content: str
    message_id: str


class SlackThread(BaseModel):
    thread_ts: str
    channel_id: str
    events: list[SlackMessage]


class V1Beta2EmailEventReceived(BaseModel):
    is_test: bool | None = None
    type: Literal["agent_email.received"] = "agent_email.received"
    event: EmailPayload


class V1Beta2SlackEventReceived(BaseModel):
    is_test: bool | None = None
    type: Literal["agent_slack.received"] = "agent_slack.received"
    event: SlackThread


class V1Beta2FunctionCallCompleted(BaseModel):
    """What a foureyes webhook delivers when a function call is decided."""

    is_test: bool | None = None
    type: Literal["function_call.completed"] = "function_call.completed"
    event: FunctionCall


class V1Beta2HumanContactCompleted(BaseModel):
    """What a foureyes webhook delivers when a question is answered."""

    is_test: bool | None = None
    type: Literal["human_contact.completed"] = "human_contact.completed"
    event: HumanContact
