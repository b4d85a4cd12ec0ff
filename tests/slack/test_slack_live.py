"""The Slack channel end to end: a real foureyes server, slack_sdk pointed at a stand-in for
Slack's Web API on 127.0.0.1, the official humanlayer SDK waiting, and interactions signed as
Slack signs them posted to ``/slack/interactions``."""

from __future__ import annotations

import time
from typing import Any

import humanlayer
import pytest

from .live import (
    CHANNEL,
    REVIEWER,
    STRANGER,
    UNVERIFIED,
    SlackServer,
    in_thread,
    pending_call_id,
    slack_spec,
    texts,
    wait_until,
)
from .signing import block_action, signed, signed_raw, view_submission
from .slack_api import SlackApi

pytestmark = pytest.mark.slow


def test_approve_from_the_button(live: SlackServer, slack: SlackApi) -> None:
    waiting = in_thread(lambda: live.hl.fetch_approval(slack_spec(thread_ts="1759999999.000100")))
    [post] = slack.wait_for("chat.postMessage")
    assert post.token == "xoxb-server"
    assert post.args["channel"] == CHANNEL
    assert post.args["thread_ts"] == "1759999999.000100"
    blocks = post.args["blocks"]
    shown = texts(blocks)
    assert "wire_money" in shown
    assert "*amount*\n100" in shown
    assert "ACME &lt;ops@acme.example&gt;" in shown
    buttons = [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["Approve", "Reject", "Too much money"]

    # the wire status names the message once it is posted
    call_id = pending_call_id(live)
    ts = "1760000000.000001"
    wait_until(lambda: live.status(call_id)["slack_message_ts"] == ts)

    click = block_action(blocks, "approve", user=REVIEWER, channel=CHANNEL, ts=ts)
    answer = live.interact(click)
    assert answer.status_code == 200, answer.text
    result = waiting.result(timeout=30)
    assert result.as_completed().approved is True
    status = live.status(call_id)
    assert status["responded_by"] == {"email": "boss@example.com", "name": "boss", "channel": "slack"}
    assert status["slack_message_ts"] == ts

    [update] = slack.wait_for("chat.update")
    assert update.args["channel"] == CHANNEL
    assert update.args["ts"] == ts
    assert all(b["type"] != "actions" for b in update.args["blocks"])
    assert "*Approved* by boss via slack" in texts(update.args["blocks"])

    # the same signed request again, and a second click: refused, nothing changes
    replay = live.interact(click, at=int(answer.request.headers["x-slack-request-timestamp"]))
    assert replay.status_code == 401
    again = block_action(blocks, "approve", user=REVIEWER, channel=CHANNEL, ts=ts)
    assert live.interact(again).status_code == 200
    assert slack.wait_for("chat.postEphemeral")[0].args["text"] == "This request was already approved."
    assert live.status(call_id)["approved"] is True
    assert len(slack.of("chat.update")) == 1


def test_reject_through_the_modal(live: SlackServer, slack: SlackApi) -> None:
    waiting = in_thread(lambda: live.hl.fetch_approval(slack_spec()))
    [post] = slack.wait_for("chat.postMessage")
    call_id = pending_call_id(live)
    click = block_action(
        post.args["blocks"], "reject", user=REVIEWER, channel=CHANNEL, ts="1760000000.000001"
    )
    assert live.interact(click).status_code == 200
    [opened] = slack.wait_for("views.open")
    assert opened.args["trigger_id"] == click["trigger_id"]
    assert live.status(call_id)["approved"] is None  # opening the modal decides nothing

    view = opened.args["view"]
    # an empty comment is asked for again, in the modal
    empty = live.interact(view_submission(view, "  ", user=REVIEWER))
    assert empty.json()["response_action"] == "errors"
    done = live.interact(view_submission(view, "Not this month <@U0BOSS> & co", user=REVIEWER))
    assert done.status_code == 200
    assert done.content == b""
    result = waiting.result(timeout=30)
    assert result.as_completed().approved is False
    assert live.status(call_id)["comment"] == "Not this month <@U0BOSS> & co"
    [update] = slack.wait_for("chat.update")
    shown = texts(update.args["blocks"])
    assert "*Rejected* by boss via slack" in shown
    assert "&gt;Not this month &lt;@U0BOSS&gt; &amp; co" not in shown  # quoted, and escaped:
    assert ">Not this month &lt;@U0BOSS&gt; &amp; co" in shown


def test_refused_requests_change_nothing(live: SlackServer, slack: SlackApi) -> None:
    in_thread(lambda: live.hl.fetch_approval(slack_spec()))
    [post] = slack.wait_for("chat.postMessage")
    call_id = pending_call_id(live)
    blocks = post.args["blocks"]
    ts = "1760000000.000001"

    def approve_as(user: str) -> dict[str, Any]:
        return block_action(blocks, "approve", user=user, channel=CHANNEL, ts=ts)

    # a wrong signature, and a timestamp more than 5 minutes old
    assert live.interact(approve_as(REVIEWER), secret="not-the-secret").status_code == 401
    assert live.interact(approve_as(REVIEWER), at=int(time.time()) - 6 * 60).status_code == 401
    body, headers = signed(approve_as(REVIEWER))
    assert live.web.post("/slack/interactions", content=body + b"x", headers=headers).status_code == 401
    # users who may not decide: told so, privately
    for user in (STRANGER, UNVERIFIED, "U0UNKNOWN"):
        assert live.interact(approve_as(user)).status_code == 200
    ephemeral = slack.wait_for("chat.postEphemeral", 3)
    assert [(c.args["user"], c.args["text"]) for c in ephemeral] == [
        (STRANGER, "You may not decide this request."),
        (UNVERIFIED, "You may not decide this request."),
        ("U0UNKNOWN", "You may not decide this request."),
    ]
    assert live.status(call_id)["approved"] is None
    # a stranger's Reject opens no modal either
    assert (
        live.interact(block_action(blocks, "reject", user=STRANGER, channel=CHANNEL, ts=ts)).status_code
        == 200
    )
    slack.wait_for("chat.postEphemeral", 4)
    assert slack.of("views.open") == []

    # a replay of a request that was handled: refused, even within the 5 minutes
    body, headers = signed(approve_as(STRANGER))
    assert live.web.post("/slack/interactions", content=body, headers=headers).status_code == 200
    assert live.web.post("/slack/interactions", content=body, headers=headers).status_code == 401
    retried = {**headers, "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    assert live.web.post("/slack/interactions", content=body, headers=retried).status_code == 200
    slack.wait_for("chat.postEphemeral", 5)
    time.sleep(0.3)
    assert len(slack.of("chat.postEphemeral")) == 5  # the replay and the retry did nothing
    assert live.status(call_id)["approved"] is None
    assert slack.of("chat.update") == []


def test_allowed_responders_and_a_question(live: SlackServer, slack: SlackApi) -> None:
    channel = humanlayer.ContactChannel(
        slack=humanlayer.SlackContactChannel(
            channel_or_user_id="U0ASKED", allowed_responder_ids=["U0ASKED"], bot_token="xoxb-own"
        )
    )
    spec = humanlayer.HumanContactSpec(
        msg="Ship <!channel> the release?",
        channel=channel,
        response_options=[humanlayer.ResponseOption(name="yes", title="Ship it", prompt_fill="ship it")],
    )
    waiting = in_thread(lambda: live.hl.fetch_human_response(spec))
    [post] = slack.wait_for("chat.postMessage")
    assert post.token == "xoxb-own"  # the request's own bot_token
    assert "Ship &lt;!channel&gt; the release?" in texts(post.args["blocks"])
    buttons = [e["action_id"] for b in post.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["respond_option:0", "reply"]
    # a reviewer of the project, but not among the allowed responders
    refused = block_action(post.args["blocks"], "reply", user=REVIEWER, channel="D0ASKED", ts="1")
    assert live.interact(refused).status_code == 200
    slack.wait_for("chat.postEphemeral")
    assert slack.of("views.open") == []

    click = block_action(post.args["blocks"], "reply", user="U0ASKED", channel="D0ASKED", ts="1")
    assert live.interact(click).status_code == 200
    [opened] = slack.wait_for("views.open")
    assert opened.token == "xoxb-own"
    assert live.interact(view_submission(opened.args["view"], "yes, ship", user="U0ASKED")).status_code == 200
    assert waiting.result(timeout=30).as_completed() == "yes, ship"
    [update] = slack.wait_for("chat.update")
    assert update.args["channel"] == "D0ASKED"  # where Slack said it posted the message
    assert "*Answered* by <@U0ASKED> via slack" in texts(update.args["blocks"])


def test_signed_but_not_an_interaction(live: SlackServer) -> None:
    for body in (b"payload=%5B1%5D", b"payload=not-json", b"other=1"):
        assert live.web.post("/slack/interactions", content=body, headers=signed_raw(body)).status_code == 400
    # not UTF-8, so not something Slack signed
    assert (
        live.web.post("/slack/interactions", content=b"\xff", headers=signed_raw(b"\xff")).status_code == 401
    )


def test_an_approval_that_leaves_a_group_to_go_says_what_is_still_needed(
    live: SlackServer, slack: SlackApi
) -> None:
    for command in (
        ("users", "add", "someone@example.com", "--role", "reviewer"),
        ("groups", "add", "finance", "--member", "boss@example.com"),
        ("groups", "add", "security", "--member", "someone@example.com"),
    ):
        done = live.server.foureyes(*command)
        assert done.returncode == 0, done.stderr
    body = {
        "run_id": "run-1",
        "call_id": "two-sides",
        "spec": slack_spec().model_dump(mode="json"),
        "required_approvers": {"all_of": ["finance", "security"]},
    }
    created = live.agent.post("/function_calls", json=body)
    assert created.status_code == 200, created.text
    [post] = slack.wait_for("chat.postMessage")
    ts = "1760000000.000001"
    first = block_action(post.args["blocks"], "approve", user=REVIEWER, channel=CHANNEL, ts=ts)
    assert live.interact(first).status_code == 200
    [told] = slack.wait_for("chat.postEphemeral")
    assert told.args["user"] == REVIEWER
    assert told.args["text"] == (
        "Your approval is recorded: 1 of 2 approvals (boss@example.com); still needs security."
    )
    assert live.status("two-sides")["approved"] is None
    # everyone in the channel sees the progress, and the buttons stay for the others
    [progress] = slack.wait_for("chat.update")
    assert (progress.args["channel"], progress.args["ts"]) == (CHANNEL, ts)
    shown = texts(progress.args["blocks"])
    assert "1 of 2 approvals (boss@example.com); still needs security" in shown
    assert progress.args["blocks"][-1] == post.args["blocks"][-1]
    second = block_action(post.args["blocks"], "approve", user=STRANGER, channel=CHANNEL, ts=ts)
    assert live.interact(second).status_code == 200
    wait_until(lambda: live.status("two-sides")["approved"] is True)
    [_, update] = slack.wait_for("chat.update", 2)
    assert "*Approved* by" in texts(update.args["blocks"])
    assert all(block["type"] != "actions" for block in update.args["blocks"])
