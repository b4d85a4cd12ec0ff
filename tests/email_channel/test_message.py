"""The email channel's parts without a server: SMTP URLs, settings, links, recipients, messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from foureyes.server.channels.email.links import BadLinkError, LinkClaim, LinkSigner
from foureyes.server.channels.email.message import Recipient, compose, recipients_of
from foureyes.server.channels.email.sink import escalation_channel
from foureyes.server.channels.email.smtp import SmtpConfig
from foureyes.server.settings import Settings
from foureyes.storage import ItemRecord

from .smtp_server import parts

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def item(spec: dict[str, Any], kind: str = "function_call") -> ItemRecord:
    return ItemRecord(
        id=1,
        project_id=1,
        kind=kind,
        call_id="c1",
        run_id="r1",
        spec=spec,
        request_digest="d",
        spec_digest="d",
        state="pending",
        requested_at=NOW,
        completed_at=None,
    )


def render(record: ItemRecord, email: dict[str, Any]) -> tuple[str, str, str | None]:
    composed = compose(
        record,
        email,
        recipient="boss@example.com",
        visible=[Recipient("boss@example.com", "to")],
        sender="approvals@example.com",
        link="https://approvals.example.com/email/TOKEN",
        links_expire="soon",
        project="Default",
    )
    text, html = parts(composed.message)
    return text, html, composed.template_error


def test_smtp_urls() -> None:
    plain = SmtpConfig.parse("smtp://mail.example.com:2525")
    assert (plain.host, plain.port, plain.implicit_tls, plain.require_starttls) == (
        "mail.example.com",
        2525,
        False,
        False,
    )
    assert plain.username is None
    tls = SmtpConfig.parse("smtps://u%40x:p%3Aw@mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (465, True, "u@x", "p:w")
    assert SmtpConfig.parse("smtp://h:587?starttls=required").require_starttls is True
    for bad in (
        "http://h",
        "smtp://",
        "smtp://h?starttls=maybe",
        "smtp://h?tls=1",
        "smtps://h?starttls=required",
    ):
        with pytest.raises(ValueError, match="FOUREYES_SMTP_URL"):
            SmtpConfig.parse(bad)


def test_smtp_needs_a_public_url_and_a_sender() -> None:
    with pytest.raises(ValueError, match="FOUREYES_PUBLIC_URL"):
        Settings(smtp_url="smtp://h:25", email_from="a@b.c")
    with pytest.raises(ValueError, match="FOUREYES_EMAIL_FROM"):
        Settings(smtp_url="smtp://h:25", public_url="https://x")
    with pytest.raises(ValueError, match="FOUREYES_SMTP_URL"):
        Settings(smtp_url="ftp://h", public_url="https://x", email_from="a@b.c")
    assert Settings(smtp_url="smtp://h:25", public_url="https://x", email_from="a@b.c").smtp_url


def test_links_round_trip_and_refuse_changes() -> None:
    signer = LinkSigner(b"k" * 32)
    claim = LinkClaim(
        1, "function_call", "c1", "boss@example.com", int((NOW + timedelta(days=1)).timestamp())
    )
    token = signer.sign(claim)
    assert signer.verify(token, NOW) == claim
    with pytest.raises(BadLinkError, match="expired"):
        signer.verify(token, NOW + timedelta(days=2))
    with pytest.raises(BadLinkError, match="not valid"):
        LinkSigner(b"other key".ljust(32)).verify(token, NOW)
    body, mac = token.split(".")
    other = signer.sign(LinkClaim(1, "function_call", "c1", "eve@example.com", claim.expires_at))
    with pytest.raises(BadLinkError):
        signer.verify(f"{other.split('.')[0]}.{mac}", NOW)
    with pytest.raises(BadLinkError):
        signer.verify(body, NOW)


def test_escalation_merges_recipients() -> None:
    original = item(
        {
            "fn": "f",
            "kwargs": {},
            "channel": {
                "email": {"address": "a@x", "additional_recipients": [{"address": "b@x", "field": "cc"}]}
            },
        }
    )
    escalation = {
        "escalation_msg": "hurry",
        "additional_recipients": [{"address": "c@x", "field": "to"}, {"address": "b@x", "field": "bcc"}],
        "channel": {
            "email": {"address": "boss@x", "additional_recipients": [{"address": "d@x", "field": "bcc"}]}
        },
    }
    merged = escalation_channel(original, escalation)
    assert [(r.address, r.field) for r in recipients_of(merged)] == [
        ("boss@x", "to"),
        ("b@x", "cc"),
        ("c@x", "to"),
        ("d@x", "bcc"),
    ]
    assert escalation_channel(item({"fn": "f", "kwargs": {}}), {"escalation_msg": "x"}) is None
    unchanneled = escalation_channel(item({"fn": "f", "kwargs": {}}), escalation)
    assert unchanneled is not None
    assert unchanneled["address"] == "boss@x"


def test_custom_template_is_sandboxed_and_escaped() -> None:
    record = item({"fn": "<b>drop</b>", "kwargs": {"x": 1}})
    template = "<p>{{ event.spec.fn }}</p><a href='{{ urls.base_url }}?approve=true'>ok</a> {{ type }}"
    _text, html, error = render(record, {"address": "boss@example.com", "template": template})
    assert error is None
    assert "<p>&lt;b&gt;drop&lt;/b&gt;</p>" in html
    assert "https://approvals.example.com/email/TOKEN?approve=true" in html
    assert "v1beta2.function_call" in html


@pytest.mark.parametrize(
    "template",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}", "{% for %}", "{{ missing.thing }}"],
)
def test_failing_template_falls_back_and_says_why(template: str) -> None:
    text, html, error = render(item({"fn": "wire", "kwargs": {}}), {"address": "a@x", "template": template})
    assert error is not None
    assert error.startswith("custom template failed")
    assert "An agent wants to call" in html
    assert "Approve: https://approvals.example.com/email/TOKEN" in text


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</pre><script>alert(1)</script>",
    "</code><script>alert(1)</script>",
    "</td><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<iframe src=javascript:alert(1)>",
    "<body onload=alert(1)>",
    "<a href=javascript:alert(1)>x</a>",
    "<a href='javascript:alert(1)'>x</a>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)>",
    "<audio src=x onerror=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<select autofocus onfocus=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<link rel=stylesheet href=javascript:alert(1)>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<base href=javascript:alert(1)//>",
    "<isindex action=javascript:alert(1) type=image>",
    "<img src=`x` onerror=alert(1)>",
    "<img/src=x/onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--<script>alert(1)//-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "{{ 7*7 }}<script>alert(1)</script>",
    "{% raw %}<script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;<script>x</script>",
    '<div style="background:url(javascript:alert(1))">',
    "\nApprove: https://evil.example/<script>",
    "\r\nReject: https://evil.example/<img src=x onerror=alert(1)>",
]


def tags(html: str) -> list[str]:
    return re.findall(r"<\s*(/?[a-zA-Z!][^\s>/]*)", html)


def specs(value: str) -> list[ItemRecord]:
    options = [{"name": value, "title": value, "description": value}]
    return [
        item({"fn": value, "kwargs": {value: value, "nested": {"v": [value]}}, "reject_options": options}),
        item({"msg": value, "subject": value, "response_options": options}, "human_contact"),
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_agent_written_fields_are_escaped_in_both_parts(payload: str) -> None:
    for record, harmless in zip(specs(payload), specs("x"), strict=True):
        text, html, _ = render(record, {"address": "boss@example.com", "subject": payload})
        _, expected_html, _ = render(harmless, {"address": "boss@example.com", "subject": "x"})
        # the payload adds no element, attribute-bearing tag or comment to the HTML part
        assert tags(html) == tags(expected_html)
        # the text part has only the server's own links, each on its own line
        lines = [line for line in text.splitlines() if line.startswith(("Approve:", "Reject:", "Answer:"))]
        assert len(lines) == (2 if record.kind == "function_call" else 1)
        assert all(line.split()[-1].startswith("https://approvals.example.com/email/TOKEN") for line in lines)
