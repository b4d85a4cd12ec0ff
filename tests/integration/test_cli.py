"""The `foureyes` command against a real server, as a reviewer uses it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import foureyes

from .conftest import LiveServer

# Real server processes (or SIGKILLed ones): part of the full suite, not of --fast.
pytestmark = pytest.mark.slow


def reviewer_cli(server: LiveServer, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    server.env["FOUREYES_REVIEWER_KEY"] = key
    server.env["FOUREYES_API_BASE"] = server.api_base
    try:
        return server.foureyes(*args)
    finally:
        del server.env["FOUREYES_REVIEWER_KEY"], server.env["FOUREYES_API_BASE"]


def test_keys_create_prints_the_key_last(live_server: LiveServer) -> None:
    done = live_server.foureyes("keys", "create", "--project", "ops", "--scopes", "agent,respond")
    assert done.returncode == 0
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("fe_")
    assert "ops" in done.stderr


def test_keys_create_rejects_unknown_scope(live_server: LiveServer) -> None:
    done = live_server.foureyes("keys", "create", "--scopes", "agent,admin")
    assert done.returncode != 0
    assert "scopes must be" in done.stderr


def test_pending_approve_reject_answer(live_server: LiveServer) -> None:
    hl = foureyes.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    spec = foureyes.FunctionCallSpec(
        fn="send_email",
        kwargs={"to": "a@example.com", "body": "\x1b[31mred\x1b[0m [bold]not markup[/bold]"},
        reject_options=[foureyes.ResponseOption(name="typo", title="Fix the typo")],
    )
    hl.create_function_call(spec, call_id="call-a")
    hl.create_function_call(foureyes.FunctionCallSpec(fn="wire", kwargs={"usd": 5}), call_id="call-b")
    hl.create_human_contact(
        foureyes.HumanContactSpec(
            msg="Which tone?", response_options=[foureyes.ResponseOption(name="formal", prompt_fill="Formal")]
        ),
        call_id="hc-a",
    )
    key = live_server.create_key("respond")

    listing = reviewer_cli(live_server, key, "pending")
    assert listing.returncode == 0, listing.stderr
    for text in ("call-a", "call-b", "hc-a", "send_email", "Which tone?", "typo", "[bold]not markup[/bold]"):
        assert text in listing.stdout
    assert "\x1b[31m" not in listing.stdout  # agent-written escapes are shown, never interpreted

    assert reviewer_cli(live_server, key, "approve", "call-a", "--comment", "ok").returncode == 0
    assert hl.get_function_call("call-a").status.approved is True

    no_comment = reviewer_cli(live_server, key, "reject", "call-b")
    assert no_comment.returncode != 0
    rejected = reviewer_cli(live_server, key, "reject", "call-b", "--comment", "too little")
    assert rejected.returncode == 0, rejected.stderr
    assert hl.get_function_call("call-b").status.comment == "too little"

    again = reviewer_cli(live_server, key, "approve", "call-b")
    assert again.returncode == 1
    assert "error" in again.stderr.lower()

    answered = reviewer_cli(live_server, key, "answer", "hc-a", "--option", "formal")
    assert answered.returncode == 0, answered.stderr
    contact = hl.get_human_contact("hc-a")
    assert (contact.status.response, contact.status.response_option_name) == ("Formal", "formal")

    wrong_kind = reviewer_cli(live_server, key, "approve", "hc-a")
    assert wrong_kind.returncode == 1
    assert "foureyes answer" in wrong_kind.stderr

    empty = reviewer_cli(live_server, key, "pending")
    assert "Nothing is waiting" in empty.stdout


def test_reviewer_commands_need_a_respond_key(live_server: LiveServer) -> None:
    agent_key = live_server.create_key("agent")
    done = reviewer_cli(live_server, agent_key, "approve", "call-x")
    assert done.returncode == 1
    assert "respond" in done.stderr

    live_server.env.pop("FOUREYES_API_KEY", None)
    live_server.env["FOUREYES_API_BASE"] = live_server.api_base
    no_key = live_server.foureyes("pending")
    assert no_key.returncode == 1
    assert "no API key" in no_key.stderr


def test_unreachable_server_is_a_clear_error(live_server: LiveServer) -> None:
    key = live_server.create_key("respond")
    live_server.stop()
    done = reviewer_cli(live_server, key, "pending")
    assert done.returncode == 1
    assert "cannot reach the foureyes server" in done.stderr


def test_terminal_mode_eof_denies(tmp_path: Path) -> None:
    """No API key: the local terminal decides, and a closed stdin is a no."""
    script = tmp_path / "agent.py"
    script.write_text(
        textwrap.dedent(
            """
            from foureyes import HumanLayer
            hl = HumanLayer()

            @hl.require_approval()
            def launch(target: str) -> str:
                print("LAUNCHED")
                return "launched"

            print("RESULT:", launch("moon"))
            """
        )
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(foureyes.__file__).parents[1])}
    for stdin in (subprocess.DEVNULL, None):
        done = subprocess.run(
            [sys.executable, str(script)],
            stdin=stdin,
            input=None if stdin is not None else "",
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "LAUNCHED" not in done.stdout
        assert "RESULT: User denied launch" in done.stdout
    typed = subprocess.run(
        [sys.executable, str(script)],
        input="\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert "LAUNCHED" in typed.stdout


def test_keys_list_and_revoke(live_server: LiveServer) -> None:
    key = live_server.create_key("agent", project="billing")
    hl = foureyes.HumanLayer(api_key=key, api_base_url=live_server.api_base)
    hl.create_function_call(foureyes.FunctionCallSpec(fn="f", kwargs={}), call_id="before-revoke")

    listing = live_server.foureyes("keys", "list", "--project", "billing")
    assert listing.returncode == 0, listing.stderr
    [row] = [line for line in listing.stdout.splitlines() if key[:8] in line]
    assert key not in listing.stdout  # only the prefix is ever shown
    key_id = row.split("│")[1].strip()

    assert live_server.foureyes("keys", "revoke", key_id).returncode == 0
    with pytest.raises(foureyes.AuthenticationError):
        hl.get_function_call("before-revoke")
    again = live_server.foureyes("keys", "revoke", key_id)
    assert again.returncode == 1
    assert "no active key" in again.stderr
    hl.close()


def test_pending_in_80_columns_as_json_and_a_rejection_by_option(live_server: LiveServer) -> None:
    hl = foureyes.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    spec = foureyes.FunctionCallSpec(
        fn="send_email",
        kwargs={"to": "someone@example.com", "body": "a body long enough to need folding in 80 columns " * 2},
        reject_options=[
            foureyes.ResponseOption(name="typo", title="Fix the typo", prompt_fill="fix the typo")
        ],
    )
    call_ids = [hl.create_function_call(spec).call_id for _ in range(2)]  # uuid4: 36 characters
    key = live_server.create_key("respond")

    live_server.env["COLUMNS"] = "80"  # the terminal a new user has
    try:
        table = reviewer_cli(live_server, key, "pending")
        listing = reviewer_cli(live_server, key, "pending", "--json")
    finally:
        live_server.env["COLUMNS"] = "250"
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for call_id in call_ids:  # whole on one line, so it can be copied
        assert any(call_id in line for line in lines), table.stdout

    assert listing.returncode == 0, listing.stderr
    document = json.loads(listing.stdout)
    assert document["human_contacts"] == []
    assert sorted(c["call_id"] for c in document["function_calls"]) == sorted(call_ids)
    assert document["function_calls"][0]["spec"]["kwargs"] == spec.kwargs

    nothing = reviewer_cli(live_server, key, "reject", call_ids[0])
    assert nothing.returncode == 1
    assert "--option NAME" in nothing.stderr
    by_option = reviewer_cli(live_server, key, "reject", call_ids[0], "--option", "typo")
    assert by_option.returncode == 0, by_option.stderr
    status = hl.get_function_call(call_ids[0]).status
    assert status.approved is False
    assert status.reject_option_name == "typo"
    hl.close()
