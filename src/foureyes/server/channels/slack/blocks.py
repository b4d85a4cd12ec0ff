"""The Block Kit a request becomes in Slack: the message, its decided form, and the two modals.

A message starts with its framing: for whom it is (the channel's
``context_about_channel_or_user``, "For the payments on-call") and, on a message an escalation
posted, the escalation's note. Always Block Kit: ``experimental_slack_blocks`` changes nothing.

Every agent-written value (function name, argument names and values, the question, option
titles, the agent's name, a comment) goes through ``escape`` before it is put in ``mrkdwn``
text, so ``&``, ``<`` and ``>`` reach Slack as ``&amp;``, ``&lt;`` and ``&gt;``: no value can
open a link, a mention (``<!channel>``) or a user reference. The sections are ``verbatim``, so
Slack does not turn bare URLs or channel names in a value into links either. A long value is cut
and followed by a link to the request's inbox page, where it is shown whole.

A button's ``value`` names the request (``{"p": project, "k": kind, "c": call_id}`` and the
option's index); the interaction it causes is signed by Slack, so the value comes back as sent.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from foureyes._protocol import ItemKind, ItemState
from foureyes.server.domain.quorum import progress
from foureyes.server.renderable import json_text
from foureyes.storage import ItemRecord

APPROVE = "approve"
REJECT = "reject"
REJECT_OPTION = "reject_option"
RESPOND_OPTION = "respond_option"
REPLY = "reply"
# callback ids of the two modals
REJECT_VIEW = "foureyes_reject"
REPLY_VIEW = "foureyes_reply"
TEXT_BLOCK = "text"
TEXT_ACTION = "text"

VALUE_MAX = 500  # characters of one argument value shown before it is cut
MESSAGE_MAX = 2_500  # characters of a question or comment shown
ARGUMENTS_MAX = 20  # argument sections in one message (Slack allows 50 blocks)
BUTTON_TEXT_MAX = 75  # Slack's limit on a button's label
BUTTONS_MAX = 24  # Slack allows 25 elements in an actions block
FALLBACK_MAX = 150
NOTE_MAX = 300  # characters of an escalation's note or a channel's context shown
SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
PATHS: dict[str, str] = {ItemKind.FUNCTION_CALL: "function_calls", ItemKind.HUMAN_CONTACT: "human_contacts"}


def escape(text: str) -> str:
    """``text`` as literal characters in Slack's mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inbox_link(base_url: str, project_slug: str, item: ItemRecord) -> str:
    path = f"/inbox/p/{quote(project_slug, safe='')}/{PATHS[item.kind]}/{quote(item.call_id, safe='')}"
    return base_url.rstrip("/") + path


def _cut(text: str, limit: int, link: str) -> str:
    """``text`` escaped, cut at ``limit`` characters with a link to where it is shown whole."""
    if len(text) <= limit:
        return escape(text)
    return f"{escape(text[:limit])}… <{escape(link)}|(cut: the whole value is in the inbox)>"


def _plain(text: str, limit: int = BUTTON_TEXT_MAX) -> dict[str, Any]:
    # plain_text is never parsed for formatting; only its length needs care
    return {"type": "plain_text", "text": (text[: limit - 1] + "…") if len(text) > limit else text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


@dataclass(frozen=True)
class Ref:
    """The request an interaction is about, and the option it picked."""

    project_id: int
    kind: str
    call_id: str
    option: int | None = None

    def value(self) -> str:
        fields: dict[str, Any] = {"p": self.project_id, "k": self.kind, "c": self.call_id}
        if self.option is not None:
            fields["o"] = self.option
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def parse(cls, value: str) -> Ref:
        fields = json.loads(value)
        option = fields.get("o")
        return cls(
            int(fields["p"]), str(fields["k"]), str(fields["c"]), None if option is None else int(option)
        )


def _button(text: str, action_id: str, ref: Ref, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text),
        "action_id": action_id,
        "value": ref.value(),
    }
    if style:
        button["style"] = style
    return button


def _option_title(option: Mapping[str, Any]) -> str:
    return str(option.get("title") or option.get("name") or "")


@dataclass(frozen=True)
class Framing:
    """What a message says about itself before the request: whom it is for (the channel's
    ``context_about_channel_or_user``) and, for an escalation, why it was sent."""

    context: str | None = None
    escalation: str | None = None

    def blocks(self, link: str) -> list[dict[str, Any]]:
        found = []
        if self.escalation is not None:
            note = _cut(" ".join(self.escalation.split()), NOTE_MAX, link) or "no decision yet"
            found.append(_context(f":rotating_light: *Escalated:* {note}"))
        if self.context and self.context.strip():
            found.append(_context(f"For {_cut(' '.join(self.context.split()), NOTE_MAX, link)}"))
        return found


def _body(
    item: ItemRecord, *, agent: str | None, project: str, link: str, framing: Framing | None
) -> list[dict[str, Any]]:
    spec = item.spec
    blocks: list[dict[str, Any]] = [] if framing is None else framing.blocks(link)
    if item.kind == ItemKind.FUNCTION_CALL:
        blocks.append(_section(f"*Approval requested:* `{_cut(str(spec.get('fn', '')), VALUE_MAX, link)}`"))
        kwargs = sorted((spec.get("kwargs") or {}).items())
        for name, value in kwargs[:ARGUMENTS_MAX]:
            shown = value if isinstance(value, str) else json_text(value)
            blocks.append(_section(f"*{_cut(str(name), 100, link)}*\n{_cut(shown, VALUE_MAX, link)}"))
        if len(kwargs) > ARGUMENTS_MAX:
            more = len(kwargs) - ARGUMENTS_MAX
            blocks.append(_section(f"… and {more} more arguments: <{escape(link)}|see them in the inbox>"))
    else:
        subject = spec.get("subject")
        head = f"*Question:* {_cut(str(subject), 200, link)}" if subject else "*Question*"
        blocks.append(_section(f"{head}\n{_cut(str(spec.get('msg', '')), MESSAGE_MAX, link)}"))
    who = escape(agent) if agent else "an agent"
    blocks.append(
        _context(
            f"From {who} · project {escape(project)} · run {escape(item.run_id)} · <{escape(link)}|inbox>"
        )
    )
    return blocks


def fallback_text(item: ItemRecord) -> str:
    """The notification text (shown where blocks are not: push notifications, search)."""
    if item.kind == ItemKind.FUNCTION_CALL:
        text = f"Approval requested: {item.spec.get('fn', '')}"
    else:
        text = f"Question: {item.spec.get('subject') or item.spec.get('msg', '')}"
    return escape(" ".join(text.split())[:FALLBACK_MAX])


def progress_blocks(item: ItemRecord) -> list[dict[str, Any]]:
    """For a request needing several approvals: how many it has, whose, and what it still needs
    ("1 of 2 approvals (fin@example.com); still needs security"). Nothing once it was decided
    without any approval (a veto at once, an expiry): there is nothing to tell."""
    line = progress(item)
    if line is None or (item.state != ItemState.PENDING and not item.approvals()):
        return []
    return [_context(f":ballot_box_with_check: {escape(line)}")]


def request_blocks(
    item: ItemRecord, *, agent: str | None, project: str, link: str, framing: Framing | None = None
) -> list[dict[str, Any]]:
    """The message of a pending request, with its buttons (and, for one needing several
    approvals, how far it has come: the buttons stay while others still need to approve)."""
    ref = Ref(item.project_id, item.kind, item.call_id)
    buttons: list[dict[str, Any]] = []
    if item.kind == ItemKind.FUNCTION_CALL:
        buttons.append(_button("Approve", APPROVE, ref, "primary"))
        buttons.append(_button("Reject", REJECT, ref, "danger"))
        options: Sequence[Mapping[str, Any]] = item.spec.get("reject_options") or []
        action = REJECT_OPTION
    else:
        options = item.spec.get("response_options") or []
        action = RESPOND_OPTION
    for index, option in enumerate(options[: BUTTONS_MAX - 2]):
        buttons.append(
            _button(_option_title(option), f"{action}:{index}", dataclasses.replace(ref, option=index))
        )
    if item.kind == ItemKind.HUMAN_CONTACT:
        buttons.append(_button("Reply", REPLY, ref, "primary"))
    blocks = _body(item, agent=agent, project=project, link=link, framing=framing)
    blocks += progress_blocks(item)
    return [*blocks, {"type": "actions", "block_id": "foureyes_decide", "elements": buttons}]


def _who(item: ItemRecord) -> str:
    decision = item.decisions[-1]
    address = decision.actor_email or ""
    if address.startswith("slack:") and SLACK_ID.fullmatch(address[6:]):
        return f"<@{address[6:]}>"  # an id we checked: Slack shows the user's name
    name = decision.actor_name or address
    return escape(name) if name else "someone"


def outcome_line(item: ItemRecord, link: str) -> str:
    decision = item.decisions[-1]
    via = f" via {escape(decision.channel)}" if decision.channel else ""
    if decision.verdict == ItemState.APPROVED:
        line = f":white_check_mark: *Approved* by {_who(item)}{via}"
    elif decision.verdict == ItemState.REJECTED:
        line = f":x: *Rejected* by {_who(item)}{via}"
    elif decision.verdict == ItemState.ANSWERED:
        line = f":speech_balloon: *Answered* by {_who(item)}{via}"
    else:
        line = ":hourglass: *Expired*: nobody decided before the deadline"
    text = decision.response if decision.verdict == ItemState.ANSWERED else decision.comment
    if text and decision.verdict != ItemState.EXPIRED:
        line += "".join(f"\n>{part}" for part in _cut(text, MESSAGE_MAX, link).split("\n"))
    return line


def decided_blocks(
    item: ItemRecord, *, agent: str | None, project: str, link: str, framing: Framing | None = None
) -> list[dict[str, Any]]:
    """The message once the request is decided or expired: the outcome, and no buttons."""
    body = _body(item, agent=agent, project=project, link=link, framing=framing)
    return [*body, *progress_blocks(item), _section(outcome_line(item, link))]


def modal(item: ItemRecord, ref: Ref, *, channel: str | None) -> dict[str, Any]:
    """The Reject modal (a function call) or the Reply modal (a question)."""
    rejecting = item.kind == ItemKind.FUNCTION_CALL
    what = f"`{escape(str(item.spec.get('fn', ''))[:200])}`" if rejecting else escape(fallback_text(item))
    metadata = json.dumps({"ref": ref.value(), "channel": channel}, separators=(",", ":"))
    return {
        "type": "modal",
        "callback_id": REJECT_VIEW if rejecting else REPLY_VIEW,
        "private_metadata": metadata,
        "title": _plain("Reject" if rejecting else "Reply", 24),
        "submit": _plain("Reject" if rejecting else "Send", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            _section(("Reject " if rejecting else "Answer ") + what),
            {
                "type": "input",
                "block_id": TEXT_BLOCK,
                "label": _plain("Why? (the agent reads this)" if rejecting else "Your answer", 2000),
                "element": {"type": "plain_text_input", "action_id": TEXT_ACTION, "multiline": True},
            },
        ],
    }
