"""The records storage reads and writes: frozen dataclasses, one per row shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ProjectRecord:
    id: int
    slug: str
    name: str
    # the deadline of a request that names none, in seconds; None: such requests wait (0008)
    expires_after_seconds: int | None = None
    # ContactChannel objects a request that names no channel goes to (0009)
    default_channels: tuple[dict[str, Any], ...] = ()
    # only the project's deciding members may decide through an email link (0009)
    email_deciders_members_only: bool = False
    # steps of its escalation chain, by delay: {"after_seconds": n, "channels": [...]} (0016)
    escalation_steps: tuple[dict[str, Any], ...] = ()
    # its requests are decided only with a fresh passkey assertion (step-up) (0019)
    step_up: bool = False


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    project_id: int
    project_slug: str
    name: str | None
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    # set for a reviewer's personal token
    user_id: int | None = None


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    verdict: str
    comment: str | None
    option_name: str | None
    response: str | None
    actor_key_id: int | None
    channel: str
    decided_at: datetime
    spec_digest: str
    # the person who decided, when known, with their address and name as they are now
    actor_user_id: int | None = None
    actor_email: str | None = None
    actor_name: str | None = None
    # the arguments a reviewer edited and approved; None: approved as asked (0011)
    edited_kwargs: dict[str, Any] | None = None
    # the decision's signed receipt, a compact JWS (0011)
    receipt: str | None = None
    # the rule that decided automatically (0010)
    policy: str | None = None
    # the passkey (credential id, base64url) whose step-up assertion backed it (0019)
    step_up_credential: str | None = None
    # of its item's approver groups, those the approver was in when approving (0021)
    approver_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemRecord:
    id: int
    project_id: int
    kind: str
    call_id: str
    run_id: str
    spec: dict[str, Any]
    request_digest: str
    spec_digest: str
    state: str
    requested_at: datetime
    completed_at: datetime | None
    # Loaded by get_item; list_pending leaves it empty.
    decisions: tuple[DecisionRecord, ...] = ()
    # when it completes as expired if still pending; None: it waits indefinitely (0008)
    expires_at: datetime | None = None
    # the Slack message that shows it, once posted (0013)
    slack_message_ts: str | None = None
    # whether a reviewer may edit the arguments before approving (0011)
    allow_edit: bool = False
    # how many distinct people must approve; None: one (0010)
    required_approvals: int | None = None
    # the person whose key created it: they may not approve it (0010)
    creator_user_id: int | None = None
    # the channels a policy routed it to (0010)
    routes: tuple[str, ...] = ()
    # deciding it needs a fresh passkey assertion bound to the decision (0019)
    step_up: bool = False
    # the approver groups its requirement names, and from how many distinct ones of them
    # approvals are needed (0 with no group requirement) (0021)
    approver_groups: tuple[str, ...] = ()
    approver_groups_needed: int = 0
    # how many escalation steps it has had (0016); its own steps, from a policy, instead of
    # its project's chain, and when the next of them is due (0022)
    escalation_steps_done: int = 0
    escalation_steps: tuple[dict[str, Any], ...] = ()
    next_escalation_at: datetime | None = None

    @property
    def quorum(self) -> int:
        """How many distinct people must approve (a group requirement's count included)."""
        return self.required_approvals or 1

    @property
    def needs_several(self) -> bool:
        """Whether its approvals are counted (quorum.py) rather than the first completing it."""
        return self.quorum > 1 or bool(self.approver_groups)

    def approvals(self) -> tuple[DecisionRecord, ...]:
        """The approvals recorded so far (an item needing several keeps them while pending)."""
        return tuple(d for d in self.decisions if d.verdict == "approved")


@dataclass(frozen=True)
class EventRecord:
    """One change, as ``emit`` appended it: to an item, or (item_id None) to the project."""

    id: int
    project_id: int | None
    item_id: int | None
    type: str
    data: dict[str, Any]
    actor_key_id: int | None
    actor_user_id: int | None
    channel: str | None
    created_at: datetime


@dataclass(frozen=True)
class NewItem:
    project_id: int
    kind: str
    call_id: str
    run_id: str
    spec: dict[str, Any]
    request_digest: str
    spec_digest: str
    requested_at: datetime
    actor_key_id: int | None
    channel: str
    expires_at: datetime | None = None
    allow_edit: bool = False
    required_approvals: int | None = None
    creator_user_id: int | None = None
    routes: tuple[str, ...] = ()
    step_up: bool = False
    approver_groups: tuple[str, ...] = ()
    approver_groups_needed: int = 0


@dataclass(frozen=True)
class NewDecision:
    verdict: str
    comment: str | None
    option_name: str | None
    response: str | None
    actor_key_id: int | None
    channel: str
    decided_at: datetime
    spec_digest: str
    actor_user_id: int | None = None
    edited_kwargs: dict[str, Any] | None = None
    receipt: str | None = None
    policy: str | None = None
    step_up_credential: str | None = None
    approver_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SigningKeyRecord:
    """A key that signs decision receipts; ``private_key`` (raw bytes) is opened from its seal."""

    id: int
    kid: str
    public_key: bytes
    private_key: bytes
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class PolicyRecord:
    id: int
    project_id: int
    name: str
    position: int
    expression: str
    action: str
    comment: str | None
    shadow: bool
    created_at: datetime


@dataclass(frozen=True)
class GroupRecord:
    """A project's approver group and its members' addresses, sorted."""

    id: int
    project_id: int
    name: str
    members: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class WebhookEndpointRecord:
    id: int
    project_id: int
    project_slug: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign at ``now``: the current one, and the previous one during the
        overlap after a rotation."""
        found = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            found.append(self.previous_secret)
        return found


@dataclass(frozen=True)
class DeliveryRecord:
    """One message a sink owes a target (``sink`` names the channel, ``target`` is the sink's
    own address of the recipient: a webhook endpoint's id, later an email address ...)."""

    id: int
    sink: str
    target: str
    item_id: int | None
    call_id: str | None
    event_type: str
    # the same on every retry, so receivers can de-duplicate (a webhook's ``webhook-id``)
    message_id: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


DELIVERY_PENDING = "pending"
DELIVERY_SUCCEEDED = "succeeded"
DELIVERY_FAILED = "failed"
