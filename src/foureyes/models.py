"""Wire models shared by the SDK and the server.

Field names, defaults and helper methods follow the HumanLayer 0.7.9 SDK so that code written
against ``humanlayer`` works unchanged with ``foureyes`` and both SDKs speak the same JSON. Every
model ignores unknown fields, which lets the server add fields beside the compatible ones.
Booleans are strict (``true``/``false`` only): the server parses requests with these models, and
``"approved": "yes"`` must not pass for an approval.

This module imports nothing else from foureyes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, field_validator


class SlackContactChannel(BaseModel):
    """Reach a Slack channel or user (an ID such as ``C0123`` or ``U0123``)."""

    channel_or_user_id: str
    context_about_channel_or_user: str | None = None
    bot_token: str | None = None
    allowed_responder_ids: list[str] | None = None
    experimental_slack_blocks: StrictBool | None = None
    thread_ts: str | None = None

    @field_validator("allowed_responder_ids")
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("allowed_responder_ids, when given, must not be empty")
        return value


class SMSContactChannel(BaseModel):
    phone_number: str
    context_about_user: str | None = None


class WhatsAppContactChannel(BaseModel):
    phone_number: str
    context_about_user: str | None = None


class EmailRecipient(BaseModel):
    address: str
    context_about_user: str | None = None
    field: Literal["to", "cc", "bcc"] | None = None


# The deprecated ``experimental_*`` names are kept in step with their new names, both ways, so
# that both are always sent, as the official SDK does.
_EMAIL_ALIASES = (
    ("subject", "experimental_subject_line"),
    ("references_message_id", "experimental_references_message_id"),
    ("in_reply_to_message_id", "experimental_in_reply_to_message_id"),
)


class EmailContactChannel(BaseModel):
    address: str
    context_about_user: str | None = None
    additional_recipients: list[EmailRecipient] | None = None
    subject: str | None = None
    references_message_id: str | None = None
    in_reply_to_message_id: str | None = None
    experimental_subject_line: str | None = None
    experimental_references_message_id: str | None = None
    experimental_in_reply_to_message_id: str | None = None
    template: str | None = None

    def model_post_init(self, context: Any, /) -> None:
        for new, old in _EMAIL_ALIASES:
            if getattr(self, old) is not None:
                if getattr(self, new) is None:
                    setattr(self, new, getattr(self, old))
            else:
                setattr(self, old, getattr(self, new))

    @classmethod
    def in_reply_to(
        cls,
        from_address: str,
        subject: str,
        message_id: str,
        context_about_user: str | None = None,
    ) -> EmailContactChannel:
        """A channel that answers on an existing email thread."""
        return cls(
            address=from_address,
            context_about_user=context_about_user,
            subject=f"Re: {subject}",
            in_reply_to_message_id=message_id,
            references_message_id=message_id,
        )


class ContactChannel(BaseModel):
    slack: SlackContactChannel | None = None
    sms: SMSContactChannel | None = None
    whatsapp: WhatsAppContactChannel | None = None
    email: EmailContactChannel | None = None

    def context(self) -> str | None:
        """The context string of the first channel that is set."""
        if self.slack:
            return self.slack.context_about_channel_or_user
        for channel in (self.sms, self.whatsapp, self.email):
            if channel:
                return channel.context_about_user
        return None


class ResponseOption(BaseModel):
    name: str
    title: str | None = None
    description: str | None = None
    prompt_fill: str | None = None
    interactive: StrictBool = False


class RespondedBy(BaseModel):
    """Who decided, beside the compatible status fields (a foureyes extension the official SDK
    ignores): the person's address and name when a person decided (in the inbox, or with their
    personal token), and the channel (``inbox``, ``api``, ...). Address and name are null for a
    decision made with a project-wide key that belongs to nobody."""

    email: str | None = None
    name: str | None = None
    channel: str | None = None


class Approval(BaseModel):
    """foureyes: one approval of a request that needs several (``status.approvals``): who, by
    which channel, when, and (with approver groups) the requirement's groups they were in."""

    email: str | None = None
    name: str | None = None
    channel: str | None = None
    at: datetime | None = None
    groups: list[str] | None = None


class ApprovalsNeeded(BaseModel):
    """foureyes: what a pending request that needs several approvals still needs
    (``status.approvals_needed``): ``approvals`` more in all, ``from_groups`` of them from
    distinct ones of ``groups``; ``text`` says it in words ("1 more from other people")."""

    approvals: int
    from_groups: int = 0
    groups: list[str] = Field(default_factory=list)
    text: str | None = None


# The pydantic mypy plugin takes the field named `kwargs` for a redefinition of its synthesised
# __init__'s **kwargs.
class FunctionCallSpec(BaseModel):  # type: ignore[no-redef]
    fn: str
    kwargs: dict[str, Any]
    channel: ContactChannel | None = None
    reject_options: list[ResponseOption] | None = None
    state: dict[str, Any] | None = None


class FunctionCallStatus(BaseModel):
    requested_at: datetime | None = None
    responded_at: datetime | None = None
    approved: StrictBool | None = None
    comment: str | None = None
    reject_option_name: str | None = None
    slack_message_ts: str | None = None
    # foureyes: who decided (absent from HumanLayer's API)
    responded_by: RespondedBy | None = None
    # foureyes: the request's deadline, and when it passed with nobody deciding (then
    # approved is false and comment says so)
    expires_at: datetime | None = None
    expired_at: datetime | None = None
    # foureyes: the request lets a reviewer edit its arguments (create-body allow_edit), and the
    # arguments a reviewer approved instead of spec.kwargs; in a respond body, the edit itself
    allow_edit: StrictBool | None = None
    edited_kwargs: dict[str, Any] | None = None
    # foureyes: the decision's signed receipt (compact JWS, see docs/receipts.md); the server's
    # alone, ignored in a respond body
    receipt: str | None = None
    # foureyes: a request that needs several approvals (create-body required_approvals and
    # required_approvers, or a policy): how many, from which groups, who approved so far, and
    # (while pending) what it still needs; approved stays null until the last approval
    required_approvals: int | None = None
    required_approvers: dict[str, Any] | None = None
    approvals: list[Approval] | None = None
    approvals_needed: ApprovalsNeeded | None = None

    class Approved(BaseModel):
        approved: Literal[True]
        comment: str | None

    class Rejected(BaseModel):
        approved: Literal[False]
        comment: str

    def as_completed(self) -> FunctionCallStatus.Approved | FunctionCallStatus.Rejected:
        if self.approved is None:
            raise ValueError("FunctionCallStatus.as_completed() called before approval")
        if self.approved:
            return FunctionCallStatus.Approved(approved=True, comment=self.comment)
        if self.comment is None:
            raise ValueError("FunctionCallStatus.Rejected with no comment")
        return FunctionCallStatus.Rejected(approved=False, comment=self.comment)


class FunctionCall(BaseModel):
    run_id: str
    call_id: str
    spec: FunctionCallSpec
    status: FunctionCallStatus | None = None

    @property
    def is_completed(self) -> bool:
        return self.status is not None and self.status.approved is not None

    class Completed(BaseModel):
        call: FunctionCall

        def as_completed(self) -> FunctionCallStatus.Approved | FunctionCallStatus.Rejected:
            if self.call.status is None:
                raise ValueError("FunctionCall.Completed.as_completed() called before approval")
            return self.call.status.as_completed()


class Escalation(BaseModel):
    escalation_msg: str
    additional_recipients: list[EmailRecipient] | None = None
    channel: ContactChannel | None = None


# foureyes: one bulk respond decides at most this many function calls.
MAX_BULK_DECISIONS = 500


class FunctionCallDecision(BaseModel):
    """foureyes: one function call's verdict in a bulk respond (the fields of a single respond)."""

    call_id: str
    approved: StrictBool
    comment: str | None = None
    reject_option_name: str | None = None
    edited_kwargs: dict[str, Any] | None = None


class BulkDecisionRequest(BaseModel):
    """foureyes: the body of ``POST /agent/function_calls/respond``."""

    # The server checks the bounds itself, to say them in plain words.
    decisions: list[FunctionCallDecision] = Field(
        json_schema_extra={"minItems": 1, "maxItems": MAX_BULK_DECISIONS}
    )


class BulkDecisionResult(BaseModel):
    """foureyes: what became of one verdict of a bulk respond. ``decided``: recorded (the call
    as it is now, which stays pending when it needs more approvals); ``skipped``: nothing was
    written, ``reason`` says why (not found, already decided, or why the verdict was refused)."""

    call_id: str
    result: Literal["decided", "skipped"]
    reason: str | None = None
    function_call: FunctionCall | None = None


class BulkDecisionResponse(BaseModel):
    """foureyes: the answer of ``POST /agent/function_calls/respond``, in the order asked."""

    results: list[BulkDecisionResult]


class HumanContactSpec(BaseModel):
    msg: str
    subject: str | None = None
    channel: ContactChannel | None = None
    response_options: list[ResponseOption] | None = None
    state: dict[str, Any] | None = None


class HumanContactStatus(BaseModel):
    requested_at: datetime | None = None
    responded_at: datetime | None = None
    response: str | None = None
    response_option_name: str | None = None
    # foureyes: who answered (absent from HumanLayer's API)
    responded_by: RespondedBy | None = None
    # foureyes: the request's deadline, and when it passed with nobody answering (then
    # response says so)
    expires_at: datetime | None = None
    expired_at: datetime | None = None
    # foureyes: the answer's signed receipt (compact JWS, see docs/receipts.md)
    receipt: str | None = None


class HumanContact(BaseModel):
    run_id: str
    call_id: str
    spec: HumanContactSpec
    status: HumanContactStatus | None = None

    @property
    def is_completed(self) -> bool:
        return self.status is not None and self.status.response is not None

    class Completed(BaseModel):
        contact: HumanContact

        def as_completed(self) -> str:
            if self.contact.status is None or self.contact.status.response is None:
                raise ValueError("HumanContact.Completed.as_completed() called before response")
            return self.contact.status.response


class Page(BaseModel):
    """The envelope of the pending lists (``GET /agent/function_calls/pending``)."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    has_more: StrictBool


class JsonWebKeySet(BaseModel):
    """``/.well-known/foureyes/jwks.json``: the public keys that verify decision receipts."""

    keys: list[dict[str, Any]]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorEnvelope(BaseModel):
    """Every error the server sends: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorBody


FunctionCall.Completed.model_rebuild()
HumanContact.Completed.model_rebuild()
