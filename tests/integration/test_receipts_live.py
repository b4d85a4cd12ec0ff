"""Receipts and edits end to end: a real server, our SDK and the official one, and the CLI."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import humanlayer
import pytest

import foureyes

from .conftest import LiveServer

pytestmark = pytest.mark.slow


def _respond(server: LiveServer, key: str, call_id: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server.api_base}/agent/function_calls/{call_id}/respond",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def _when_pending(server: LiveServer, key: str, decide: Any) -> threading.Thread:
    """Decide the first pending call as soon as it shows up (a reviewer, on another thread)."""

    def run() -> None:
        for _ in range(200):
            page = httpx.get(
                f"{server.api_base}/agent/function_calls/pending",
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ).json()
            if page["items"]:
                decide(page["items"][0]["call_id"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_our_sdk_runs_an_edited_approval_made_with_the_cli(live_server: LiveServer) -> None:
    reviewer = live_server.create_key("respond")
    hl = foureyes.HumanLayer(
        api_key=live_server.create_key("agent"), api_base_url=live_server.api_base, timeout=30
    )
    ran: list[int] = []

    @hl.require_approval(editable=True)
    def refund(order: str, usd: int) -> str:
        ran.append(usd)
        return f"refunded {usd}"

    live_server.env["FOUREYES_API_BASE"] = live_server.api_base
    live_server.env["FOUREYES_REVIEWER_KEY"] = reviewer
    edited = json.dumps({"order": "A-1", "usd": 40})
    thread = _when_pending(
        live_server, reviewer, lambda cid: live_server.foureyes("approve", cid, "--args", edited)
    )
    answer = refund("A-1", 400)
    thread.join()
    assert ran == [40]
    assert "usd: 400 -> 40" in answer

    # the CLI left nothing pending
    pending = httpx.get(
        f"{live_server.api_base}/agent/function_calls/pending",
        headers={"Authorization": f"Bearer {reviewer}"},
    ).json()
    assert pending["items"] == []


def test_offline_verify_and_a_key_rotation_keep_old_receipts_valid(live_server: LiveServer) -> None:
    reviewer = live_server.create_key("respond")
    hl = foureyes.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    spec = foureyes.FunctionCallSpec(fn="wire", kwargs={"usd": 5})
    hl.create_function_call(spec, call_id="old")
    old = _respond(live_server, reviewer, "old", {"approved": True}).json()["status"]["receipt"]
    rotated = live_server.foureyes("receipts", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    jwks = live_server.workdir / "jwks.json"
    jwks.write_text(httpx.get(f"{live_server.url}/.well-known/foureyes/jwks.json").text)
    assert len(json.loads(jwks.read_text())["keys"]) == 2

    checked = live_server.foureyes("receipts", "verify", old, "--jwks", str(jwks), "--args", '{"usd": 5}')
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["call_id"] == "old"
    other_args = live_server.foureyes("receipts", "verify", old, "--jwks", str(jwks), "--args", '{"usd": 6}')
    assert other_args.returncode == 1
    assert "wrong_arguments" in other_args.stderr
    head, claims, signature = old.split(".")
    forged = live_server.foureyes(
        "receipts", "verify", f"{head}.{claims}.{signature[::-1]}", "--jwks", str(jwks)
    )
    assert forged.returncode == 1

    # our SDK, which fetched no JWKS yet, runs a call signed by the new key
    ran: list[str] = []
    thread = _when_pending(
        live_server, reviewer, lambda cid: _respond(live_server, reviewer, cid, {"approved": True})
    )

    @hl.require_approval
    def ping() -> str:
        ran.append("ping")
        return "pong"

    hl.timeout = 30
    assert ping() == "pong"
    thread.join()
    assert ran == ["ping"]


def test_the_official_sdk_still_works_and_never_gets_edits(live_server: LiveServer) -> None:
    reviewer = live_server.create_key("respond")
    hl = humanlayer.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    ran: list[int] = []
    refused: list[int] = []

    def decide(cid: str) -> None:
        # an edit is refused (the official SDK cannot ask for one), then it is approved as asked
        refused.append(
            _respond(live_server, reviewer, cid, {"approved": True, "edited_kwargs": {"x": 9}}).status_code
        )
        _respond(live_server, reviewer, cid, {"approved": True})

    thread = _when_pending(live_server, reviewer, decide)

    @hl.require_approval()
    def double(x: int) -> int:
        ran.append(x)
        return 2 * x

    assert double(3) == 6
    thread.join()
    assert refused == [422]
    assert ran == [3]
