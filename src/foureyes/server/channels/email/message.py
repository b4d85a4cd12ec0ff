"""The email a recipient gets for one request: multipart text/plain and HTML.

Both parts come from the Jinja2 templates beside this file, rendered with autoescaping (HTML)
and with every agent-written value written as a JSON string in the text part, so no value can
start a line of its own there (a forged "Approve:" link) however many newlines it holds.
A channel's own ``template`` replaces the HTML part: it is rendered in Jinja2's sandbox with
autoescaping, and one that fails falls back to the default and says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from foureyes.server.wire import render_item
from foureyes.storage import ItemRecord

TEMPLATES = Path(__file__).parent / "templates"
SUBJECT_MAX = 200


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # the text part is not HTML: its values are written as JSON strings instead (tojson_text)
        autoescape=autoescape,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["tojson_text"] = _json_text
    return env


_text = _environment(autoescape=False)
_html = _environment(autoescape=True)
# Custom templates are the agent's: they see only the variables given and no attribute
# that reaches Python's internals, and everything they print is escaped.
_sandbox = ImmutableSandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class Recipient:
    address: str
    field: str  # "to", "cc" or "bcc"


def recipients_of(email: Mapping[str, Any] | None) -> list[Recipient]:
    """The primary address and the additional recipients of an ``EmailContactChannel``."""
    if not email or not email.get("address"):
        return []
    found = [Recipient(str(email["address"]), "to")]
    for extra in email.get("additional_recipients") or []:
        if isinstance(extra, Mapping) and extra.get("address"):
            found.append(Recipient(str(extra["address"]), str(extra.get("field") or "to")))
    return found


def one_line(text: str) -> str:
    return " ".join(text.split())[:SUBJECT_MAX]


def subject_of(item: ItemRecord, email: Mapping[str, Any], escalated: bool) -> str:
    given = email.get("subject") or email.get("experimental_subject_line")
    if given:
        subject = str(given)
    elif item.kind == "function_call":
        subject = f"Approval needed: {item.spec.get('fn', '')}"
    else:
        subject = f"Question: {item.spec.get('subject') or item.spec.get('msg', '')}"
    return one_line(("[Escalated] " if escalated and not given else "") + subject)


@dataclass(frozen=True)
class Composed:
    message: EmailMessage
    template_error: str | None


def compose(
    item: ItemRecord,
    email: Mapping[str, Any],
    *,
    recipient: str,
    visible: Sequence[Recipient],
    sender: str,
    link: str,
    links_expire: str,
    project: str,
    escalation: str | None = None,
) -> Composed:
    spec = item.spec
    links = {
        "approve": f"{link}?approve=true",
        "reject": f"{link}?reject=true",
        "answer": link,
    }
    context = {
        "kind": item.kind,
        "fn": spec.get("fn", ""),
        "kwargs": sorted((spec.get("kwargs") or {}).items()),
        "reject_options": spec.get("reject_options") or [],
        "msg": spec.get("msg", ""),
        "subject_text": spec.get("subject"),
        "response_options": spec.get("response_options") or [],
        "project": project,
        "run_id": item.run_id,
        "call_id": item.call_id,
        "requested_at": item.requested_at.strftime("%Y-%m-%d %H:%M UTC"),
        "recipient": recipient,
        "links": links,
        "links_expire": links_expire,
        "escalation": escalation,
    }
    text = _text.get_template("message.txt").render(context)
    html = _html.get_template("message.html").render(context)
    template_error = None
    if email.get("template"):
        try:
            html = _sandbox.from_string(str(email["template"])).render(
                event=render_item(item),
                urls={"base_url": link},
                type=f"v1beta2.{item.kind}",
            )
        except Exception as exc:  # any failure of the agent's template: fall back, say why
            template_error = f"custom template failed ({type(exc).__name__}: {exc}); sent the default message"

    message = EmailMessage()
    message["Subject"] = subject_of(item, email, escalation is not None)
    message["From"] = sender
    to = [r.address for r in visible if r.field == "to"]
    cc = [r.address for r in visible if r.field == "cc"]
    message["To"] = ", ".join(to) if to else recipient
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="foureyes")
    reply_to = email.get("in_reply_to_message_id") or email.get("experimental_in_reply_to_message_id")
    references = email.get("references_message_id") or email.get("experimental_references_message_id")
    if reply_to:
        message["In-Reply-To"] = one_line(str(reply_to))
    if references or reply_to:
        message["References"] = one_line(str(references or reply_to))
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return Composed(message, template_error)
