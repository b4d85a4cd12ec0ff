"""End to end, with a real server and the official SDK: a Slack user linked by a one-time code
decides from the message an escalation step posted (both messages are updated); a project's own
bot token set from stdin (never from argv) and kept sealed; and what the SDK's
``context_about_channel_or_user`` and ``experimental_slack_blocks`` do to the message."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import humanlayer
import pytest

from .live import CHANNEL, REVIEWER, SlackServer, in_thread, pending_call_id, slack_spec, texts, wait_until
from .signing import block_action, view_submission
from .slack_api import SlackApi

pytestmark = pytest.mark.slow

LINKED = "U0LINKED"  # no email Slack would give: only the link lets them decide
LEADS = "C0LEADS"


@pytest.fixture
def fast(tmp_path: Path, slack: SlackApi) -> Iterator[SlackServer]:
    """A server whose deadline task looks for due escalation steps every 0.2 s."""
    server = SlackServer(tmp_path, slack, FOUREYES_EXPIRY_POLL_INTERVAL_SECONDS="0.2")
    yield server
    server.close()


def test_a_linked_user_decides_from_the_escalation_message(fast: SlackServer, slack: SlackApi) -> None:
    step = fast.server.foureyes("projects", "escalation", "add", "default", "--after", "1s", "--slack", LEADS)
    assert step.returncode == 0, step.stderr
    assert f"Slack to {LEADS}" in step.stdout
    waiting = in_thread(lambda: fast.hl.fetch_approval(slack_spec()))
    first, escalated = slack.wait_for("chat.postMessage", 2)
    assert first.args["channel"] == CHANNEL
    assert escalated.args["channel"] == LEADS
    assert "thread_ts" not in escalated.args  # another channel: a message of its own
    assert "*Escalated:* no decision after 1s (escalation step 1 of 1)" in texts(escalated.args["blocks"])
    leads_ts = slack.ts_of(escalated)

    def approve() -> dict[str, object]:
        return block_action(escalated.args["blocks"], "approve", user=LINKED, channel=LEADS, ts=leads_ts)

    # not linked yet, and Slack knows no email for them: refused, privately
    assert fast.interact(approve()).status_code == 200
    [refused] = slack.wait_for("chat.postEphemeral")
    assert (refused.args["user"], refused.args["channel"]) == (LINKED, LEADS)
    assert refused.args["text"] == "You may not decide this request."

    issued = fast.server.foureyes("users", "slack-link-code", "boss@example.com")
    assert issued.returncode == 0, issued.stderr
    code = issued.stdout.strip().splitlines()[-1]
    assert "/foureyes link" in issued.stderr
    linked = fast.command(f"link {code}", user=LINKED)
    assert linked.status_code == 200, linked.text
    assert linked.json() == {
        "response_type": "ephemeral",
        "text": "Linked: in Slack you now decide as boss@example.com, where that account may decide.",
    }
    assert fast.command(f"link {code}", user="U0OTHER").json()["text"].startswith("That code is not valid")
    assert fast.command("whoami", user=LINKED, secret="wrong").status_code == 401

    call_id = pending_call_id(fast)
    assert fast.interact(approve()).status_code == 200
    assert waiting.result(timeout=30).as_completed().approved is True
    status = fast.status(call_id)
    assert status["responded_by"] == {"email": "boss@example.com", "name": "boss", "channel": "slack"}
    assert status["slack_message_ts"] == slack.ts_of(first)  # the wire names the first message
    updates = slack.wait_for("chat.update", 2)
    assert sorted((u.args["channel"], u.args["ts"]) for u in updates) == sorted(
        [(CHANNEL, slack.ts_of(first)), (LEADS, leads_ts)]
    )
    for update in updates:
        assert "*Approved* by boss via slack" in texts(update.args["blocks"])
        assert all(b["type"] != "actions" for b in update.args["blocks"])
    assert len(slack.of("chat.postEphemeral")) == 1  # nothing was refused the second time


def test_a_projects_own_token_is_read_from_stdin_and_kept_sealed(live: SlackServer, slack: SlackApi) -> None:
    token = "xoxb-project-0123456789"
    # never from the command line, where other users and the shell's history would see it
    given = live.server.foureyes("projects", "slack-token", "default", token)
    assert given.returncode == 2
    assert live.server.foureyes("projects", "slack-token", "default", stdin="").returncode == 1
    assert live.server.foureyes("projects", "slack-token", "default", stdin="not a token\n").returncode == 1
    set_ = live.server.foureyes("projects", "slack-token", "default", stdin=token + "\n")
    assert set_.returncode == 0, set_.stderr
    assert "Slack bot token: the project's own" in set_.stdout
    assert token not in set_.stdout + set_.stderr
    shown = live.server.foureyes("projects", "show", "default")
    assert "Slack bot token: the project's own" in shown.stdout

    db = live.server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        [(stored,)] = conn.execute("SELECT slack_bot_token FROM projects WHERE slug = 'default'")
    assert stored.startswith("sealed:v1:")
    assert token not in stored
    for path in Path(db).parent.glob(Path(db).name + "*"):
        if path.suffix != ".key":
            assert token.encode() not in path.read_bytes(), path

    waiting = in_thread(lambda: live.hl.fetch_approval(slack_spec()))
    [post] = slack.wait_for("chat.postMessage")
    assert post.token == token
    ts = slack.ts_of(post)
    click = block_action(post.args["blocks"], "approve", user=REVIEWER, channel=CHANNEL, ts=ts)
    assert live.interact(click).status_code == 200
    assert waiting.result(timeout=30).as_completed().approved is True
    assert [c.token for c in slack.of("users.info")] == [token]  # the click is answered with it too
    assert slack.wait_for("chat.update")[0].token == token

    cleared = live.server.foureyes("projects", "slack-token", "default", "--clear")
    assert cleared.returncode == 0, cleared.stderr
    assert "Slack bot token: the server's" in cleared.stdout
    in_thread(lambda: live.hl.fetch_approval(slack_spec("second")))
    assert slack.wait_for("chat.postMessage", 2)[1].token == "xoxb-server"


def test_context_is_shown_and_the_message_is_block_kit(live: SlackServer, slack: SlackApi) -> None:
    context = "the <!here> payments\non-call"
    for number, experimental in enumerate([True, False, None], 1):
        spec = slack_spec(context_about_channel_or_user=context, experimental_slack_blocks=experimental)
        created = live.hl.create_function_call(spec)
        post = slack.wait_for("chat.postMessage", number)[-1]
        blocks = post.args["blocks"]
        assert blocks[0] == {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "For the &lt;!here&gt; payments on-call", "verbatim": True}
            ],
        }
        assert "wire_money" in texts(blocks)
        assert blocks[-1]["type"] == "actions"
        # what the agent sent is echoed back as it sent it
        echoed = live.agent.get(f"/function_calls/{created.call_id}").json()["spec"]["channel"]["slack"]
        assert echoed["experimental_slack_blocks"] is experimental
        assert echoed["context_about_channel_or_user"] == context


def test_the_decorator_says_in_which_context_it_was_denied(live: SlackServer, slack: SlackApi) -> None:
    channel = humanlayer.ContactChannel(
        slack=humanlayer.SlackContactChannel(channel_or_user_id=CHANNEL, context_about_channel_or_user="ops")
    )

    @live.hl.require_approval(contact_channel=channel)
    def wire_money(amount: int) -> str:
        return f"sent {amount}"

    result = in_thread(lambda: wire_money(amount=5))
    [post] = slack.wait_for("chat.postMessage")
    click = block_action(post.args["blocks"], "reject", user=REVIEWER, channel=CHANNEL, ts=slack.ts_of(post))
    assert live.interact(click).status_code == 200
    [opened] = slack.wait_for("views.open")
    assert live.interact(view_submission(opened.args["view"], "not today", user=REVIEWER)).status_code == 200
    assert result.result(timeout=30) == "User in ops denied wire_money with message: not today"
    wait_until(lambda: len(slack.of("chat.update")) == 1)
