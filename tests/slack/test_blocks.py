"""The Block Kit of a request: every agent-written value is escaped for Slack's mrkdwn, long
values are cut with a link to the inbox, and the buttons name the request."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from foureyes.server.channels.slack.blocks import (
    Framing,
    Ref,
    decided_blocks,
    escape,
    fallback_text,
    inbox_link,
    modal,
    request_blocks,
)
from foureyes.storage import DecisionRecord, ItemRecord

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BASE = "https://approvals.example.com"
PAYLOADS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0123ABC>",
    "<#C0123ABC>",
    "<!subteam^S0123|@admins>",
    "<https://evil.example|click to approve>",
    "<http://evil.example>",
    "<mailto:x@evil.example|mail>",
    "<tel:+15550100|call>",
    "<!date^1392734382^{date}|fallback>",
    "&lt;!channel&gt;",
    "&amp;lt;",
    "& < >",
    "&&&<<<>>>",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "<a href='javascript:alert(1)'>x</a>",
    "*bold* _italic_ ~strike~ `code`",
    "```block```",
    "> quoted\n> more",
    "line1\nline2\n<!channel>",
    "\u202e<!channel>",
    "<\u200b!channel>",
    "<@U0123|fake name>",
    "<https://approvals.example.com/inbox|looks like ours>",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "%3C!channel%3E",
    "\\<!channel\\>",
    "<<!channel>>",
    "<!channel",
    "!channel>",
    "<|>",
    "|><",
    "x" * 10 + "<!here>" + "y" * 10,
    "<@W0123ABC>",
    "&#60;!channel&#62;",
    "&#x3C;script&#x3E;",
    "\x00<!channel>\x00",
    "emoji :rotating_light: <!channel>",
    "<!channel|channel>",
    "<#C0123|general>",
]
OUR_LINK = re.compile(r"<" + re.escape(BASE) + r"/inbox/[^<>|]*\|[^<>]*>")
OUR_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
ENTITY = re.compile(r"&(amp|lt|gt);")


def item(kind: str = "function_call", **spec: Any) -> ItemRecord:
    return ItemRecord(
        id=7,
        project_id=1,
        kind=kind,
        call_id=spec.pop("call_id", "call-1"),
        run_id=spec.pop("run_id", "run-1"),
        spec=spec,
        request_digest="d",
        spec_digest="s",
        state="pending",
        requested_at=NOW,
        completed_at=None,
    )


def decided(record: ItemRecord, verdict: str, comment: str | None, **who: Any) -> ItemRecord:
    decision = DecisionRecord(
        id=1,
        verdict=verdict,
        comment=None if verdict == "answered" else comment,
        option_name=None,
        response=comment if verdict == "answered" else None,
        actor_key_id=None,
        channel=who.pop("channel", "slack"),
        decided_at=NOW,
        spec_digest="s",
        actor_email=who.pop("email", None),
        actor_name=who.pop("name", None),
    )
    return dataclasses.replace(record, state=verdict, completed_at=NOW, decisions=(decision,))


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> Iterator[str]:
    for block in blocks:
        if block.get("text", {}).get("type") == "mrkdwn":
            assert block["text"]["verbatim"] is True
            yield block["text"]["text"]
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                yield element["text"]


def assert_inert(text: str) -> str:
    """No ``<`` or ``>`` but our own links and mentions, no ``&`` but an entity we wrote: the
    text as a reader sees it."""
    rest = OUR_MENTION.sub("", OUR_LINK.sub("", text))
    assert "<" not in rest, text
    assert ">" not in rest.replace("\n>", "\n"), text
    assert "&" not in ENTITY.sub("", rest), text
    return html.unescape(rest)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_agent_written_field_is_escaped(payload: str) -> None:
    assert len(PAYLOADS) >= 40
    call = item(
        fn=payload,
        kwargs={payload: payload, "nested": {"k": payload}},
        reject_options=[{"name": payload, "title": payload}],
        call_id=payload,
        run_id=payload,
    )
    link = inbox_link(BASE, payload, call)
    assert not {"<", ">", "|"} & set(link)
    framing = Framing(context=payload, escalation=payload)
    blocks = request_blocks(call, agent=payload, project=payload, link=link, framing=framing)
    seen = "".join(assert_inert(text) for text in mrkdwn_texts(blocks))
    assert seen.count(payload) >= 3  # fn, argument name and value
    # the escalation's note and the channel's context, whitespace folded to single spaces
    folded = " ".join(payload.split())
    framed = [assert_inert(text) for block in blocks[:2] for text in mrkdwn_texts([block])]
    assert framed == [f":rotating_light: *Escalated:* {folded}", f"For {folded}"]
    # buttons are plain text, which Slack never parses
    buttons = blocks[-1]["elements"]
    assert all(b["text"]["type"] == "plain_text" for b in buttons)
    assert Ref.parse(buttons[2]["value"]) == Ref(1, "function_call", payload, 0)
    assert_inert(fallback_text(call))

    question = item(
        "human_contact", msg=payload, subject=payload, response_options=[{"name": "a", "title": payload}]
    )
    q_link = inbox_link(BASE, "p", question)
    for text in mrkdwn_texts(request_blocks(question, agent=payload, project="p", link=q_link)):
        assert_inert(text)

    for verdict in ("approved", "rejected", "answered", "expired"):
        done = decided(call, verdict, payload, email=payload, name=payload, channel=payload)
        shown = decided_blocks(done, agent=payload, project=payload, link=link, framing=framing)
        for text in mrkdwn_texts(shown):
            assert_inert(text)

    for text in mrkdwn_texts(modal(call, Ref(1, "function_call", payload), channel="C1")["blocks"]):
        assert_inert(text)


def test_escape() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("&lt;") == "&amp;lt;"


def test_long_values_are_cut_with_a_link_to_the_inbox() -> None:
    call = item(fn="deploy", kwargs={"script": "x" * 5000, "short": "ok"})
    link = inbox_link(BASE, "default", call)
    assert link == f"{BASE}/inbox/p/default/function_calls/call-1"
    blocks = request_blocks(call, agent="agent", project="default", link=link)
    [script] = [t for t in mrkdwn_texts(blocks) if t.startswith("*script*")]
    assert len(script) < 700
    assert script.endswith(f"… <{link}|(cut: the whole value is in the inbox)>")
    assert all(len(t) <= 3000 for t in mrkdwn_texts(blocks))


def test_many_arguments_stay_within_slacks_block_limit() -> None:
    call = item(fn="f", kwargs={f"a{i:03}": i for i in range(200)})
    blocks = request_blocks(call, agent=None, project="p", link=BASE)
    assert len(blocks) <= 50
    assert "180 more arguments" in blocks[-3]["text"]["text"]


def test_outcome_names_who_decided_and_removes_the_buttons() -> None:
    call = item(fn="wire", kwargs={})
    done = decided(call, "rejected", "too much\nnext month", email="slack:U0BOSS")
    blocks = decided_blocks(done, agent="a", project="p", link=BASE)
    assert all(b["type"] != "actions" for b in blocks)
    assert blocks[-1]["text"]["text"] == ":x: *Rejected* by <@U0BOSS> via slack\n>too much\n>next month"
    forged = decided(call, "approved", None, email="slack:U0<!here>")
    assert "&lt;!here&gt;" in decided_blocks(forged, agent="a", project="p", link=BASE)[-1]["text"]["text"]


def test_framing_says_for_whom_and_why_before_the_request() -> None:
    call = item(fn="wire", kwargs={"usd": 5})
    framing = Framing(context="the  payments\non-call <!here>", escalation="no decision after 10m")
    blocks = request_blocks(call, agent="a", project="p", link=BASE, framing=framing)
    assert [b["type"] for b in blocks[:3]] == ["context", "context", "section"]
    assert blocks[0]["elements"][0]["text"] == ":rotating_light: *Escalated:* no decision after 10m"
    assert blocks[1]["elements"][0]["text"] == "For the payments on-call &lt;!here&gt;"
    done = decided(call, "approved", None, email="ann@example.com", channel="inbox")
    assert decided_blocks(done, agent="a", project="p", link=BASE, framing=framing)[:2] == blocks[:2]
    # no framing, or an empty context: the message starts with the request
    assert request_blocks(call, agent="a", project="p", link=BASE)[0]["type"] == "section"
    blank = request_blocks(call, agent="a", project="p", link=BASE, framing=Framing(context="  "))
    assert blank[0]["type"] == "section"
    long = request_blocks(call, agent="a", project="p", link=BASE, framing=Framing(context="x" * 5000))
    assert len(long[0]["elements"][0]["text"]) < 500


def test_the_progress_of_several_approvals_is_escaped_and_keeps_the_buttons() -> None:
    pending = dataclasses.replace(item(fn="wire"), required_approvals=2)
    approval = decided(pending, "approved", None, email=None, name="<!channel> ann", channel="email")
    partial = dataclasses.replace(approval, state="pending", completed_at=None)
    blocks = request_blocks(partial, agent=None, project="p", link=f"{BASE}/inbox/x")
    [line] = [t for t in mrkdwn_texts(blocks) if "approvals" in t and "inbox" not in t]
    assert (
        line
        == ":ballot_box_with_check: 1 of 2 approvals (&lt;!channel&gt; ann); 1 more needed from other people"
    )
    assert blocks[-1]["type"] == "actions"
    # one that needs a single approval says nothing about approvals
    plain = request_blocks(item(fn="wire"), agent=None, project="p", link=f"{BASE}/inbox/x")
    assert not any("ballot_box" in t for t in mrkdwn_texts(plain))
