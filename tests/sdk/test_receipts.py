"""Our SDK runs an approved function only when the approval's signed receipt proves it, and runs
a reviewer's edited arguments only where the request allowed edits. The server is the public
fake (it signs like a server); forgeries are made by a man in the middle between the two."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from foureyes import AsyncHumanLayer, FunctionCallSpec, HumanLayer, ReceiptError, _receipts
from foureyes.testing import API_BASE_URL, API_KEY, FakeFoureyes

Rewrite = Callable[[dict[str, Any]], None]


def _client(fy: FakeFoureyes, rewrite: Rewrite | None = None, **options: Any) -> HumanLayer:
    """A client of ``fy`` whose answers about function calls pass through ``rewrite`` first."""

    def handle(request: httpx.Request) -> httpx.Response:
        response = fy.handler(request)
        body = json.loads(response.content)
        if rewrite is not None and "function_calls" in request.url.path and "status" in body:
            rewrite(body)
        return httpx.Response(response.status_code, json=body)

    return HumanLayer(
        api_key=API_KEY,
        api_base_url=API_BASE_URL,
        transport=httpx.MockTransport(handle),
        timeout=10,
        **options,
    )


def _gated(hl: HumanLayer, ran: list[dict[str, Any]], **options: Any) -> Any:
    @hl.require_approval(**options)
    def transfer(to: str, amount: int) -> str:
        ran.append({"to": to, "amount": amount})
        return f"sent {amount} to {to}"

    return transfer


def test_a_signed_approval_runs_the_function() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    ran: list[dict[str, Any]] = []
    assert _gated(_client(fy), ran)("bob", 10) == "sent 10 to bob"
    assert ran == [{"to": "bob", "amount": 10}]
    # the JWKS came from the server, beside its API
    assert any(r.url.path == "/.well-known/foureyes/jwks.json" for r in fy.requests)


def _tamper_arguments(body: dict[str, Any]) -> None:
    # The forger changes the approved arguments and signs nothing new.
    if body["status"].get("approved"):
        body["status"]["edited_kwargs"] = {"to": "mallory", "amount": 10_000}
        body["status"]["allow_edit"] = True


def _bad_signature(body: dict[str, Any]) -> None:
    receipt = body["status"].get("receipt")
    if receipt:
        head, claims, signature = receipt.split(".")
        forged = json.loads(_receipts.unb64url(claims)) | {"call_id": body["call_id"]}
        forged["args_sha256"] = _receipts.arguments_digest({"to": "bob", "amount": 99})
        body["status"]["receipt"] = f"{head}.{_receipts.b64url(json.dumps(forged).encode())}.{signature}"


def _no_receipt(body: dict[str, Any]) -> None:
    body["status"].pop("receipt", None)


@pytest.mark.parametrize(
    ("rewrite", "reason"),
    [(_bad_signature, "bad_signature"), (_no_receipt, "missing")],
)
def test_a_forged_or_missing_receipt_runs_nothing(rewrite: Rewrite, reason: str) -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    ran: list[dict[str, Any]] = []
    answer = _gated(_client(fy, rewrite), ran)("bob", 10)
    assert ran == []
    assert answer.startswith("Error fetching approval for transfer: receipt refused")
    assert f"({reason})" in answer


def test_tampered_arguments_run_nothing_even_where_edits_are_allowed() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    ran: list[dict[str, Any]] = []
    answer = _gated(_client(fy, _tamper_arguments), ran, editable=True)("bob", 10)
    assert ran == []
    assert "(wrong_arguments)" in answer


def test_a_receipt_from_another_call_runs_nothing() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    hl = _client(fy)
    other = hl.fetch_approval(FunctionCallSpec(fn="transfer", kwargs={"to": "bob", "amount": 10}))
    stolen = other.call.status.receipt if other.call.status else None

    def replay(body: dict[str, Any]) -> None:
        if body["status"].get("approved"):
            body["status"]["receipt"] = stolen

    ran: list[dict[str, Any]] = []
    answer = _gated(_client(fy, replay), ran)("bob", 10)  # the same arguments, another call id
    assert ran == []
    assert "(wrong_call)" in answer


def test_fetch_approval_raises_on_a_bad_receipt() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    with pytest.raises(ReceiptError) as caught:
        _client(fy, _no_receipt).fetch_approval(FunctionCallSpec(fn="f", kwargs={}))
    assert caught.value.reason == "missing"


def test_a_pinned_jwks_file_is_trusted_instead_of_the_server(tmp_path: Path) -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    pinned = tmp_path / "jwks.json"
    pinned.write_text(json.dumps(fy.jwks()))
    ran: list[dict[str, Any]] = []
    assert _gated(_client(fy, receipt_jwks=pinned), ran)("bob", 1) == "sent 1 to bob"
    assert not any(r.url.path.endswith("jwks.json") for r in fy.requests)
    # a server whose key is not the pinned one is not trusted
    impostor = FakeFoureyes()
    impostor.auto_approve()
    answer = _gated(_client(impostor, receipt_jwks=pinned), ran)("bob", 2)
    assert "(unknown_key)" in answer
    assert ran == [{"to": "bob", "amount": 1}]


def test_a_rotated_key_is_fetched_again() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    hl = _client(fy)
    ran: list[dict[str, Any]] = []
    transfer = _gated(hl, ran)
    transfer("bob", 1)
    fy.signing_key = _receipts.new_private_key()  # the server rotated its key
    assert transfer("bob", 2) == "sent 2 to bob"
    assert len([r for r in fy.requests if r.url.path.endswith("jwks.json")]) == 2


def test_verification_can_be_turned_off_for_a_backend_without_receipts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    ran: list[dict[str, Any]] = []
    assert _gated(_client(fy, _no_receipt, verify_receipts=False), ran)("bob", 1) == "sent 1 to bob"
    monkeypatch.setenv("FOUREYES_VERIFY_RECEIPTS", "false")
    assert _gated(_client(fy, _no_receipt), ran)("bob", 2) == "sent 2 to bob"
    assert len(ran) == 2


# ---------------------------------------------------------------- edit before approve


def _edit_when_asked(fy: FakeFoureyes, edited: dict[str, Any]) -> Rewrite:
    """Approve each new call with ``edited`` (as a reviewer would), in the fake itself."""

    def decide(body: dict[str, Any]) -> None:
        if body["status"]["approved"] is None:
            fy.approve(body["call_id"], edited_kwargs=edited)
            body["status"] = fy.function_call(body["call_id"]).model_dump(mode="json")["status"]

    return decide


def test_an_edited_approval_runs_the_edited_arguments_and_tells_the_llm() -> None:
    fy = FakeFoureyes()
    ran: list[dict[str, Any]] = []
    hl = _client(fy, _edit_when_asked(fy, {"to": "bob", "amount": 5}))
    answer = _gated(hl, ran, editable=True)("bob", 500)
    assert ran == [{"to": "bob", "amount": 5}]
    assert answer == (
        "A reviewer edited the arguments of transfer before approving it (amount: 500 -> 5); "
        "it ran with the edited arguments. It returned: sent 5 to bob"
    )
    [created] = [json.loads(r.content) for r in fy.requests if r.method == "POST"]
    assert created["allow_edit"] is True


def test_edits_are_refused_where_the_request_did_not_allow_them() -> None:
    fy = FakeFoureyes()
    hl = _client(fy)
    hl.create_function_call(FunctionCallSpec(fn="transfer", kwargs={"to": "bob", "amount": 1}), call_id="c1")
    with pytest.raises(ValueError, match="does not allow edits"):
        fy.approve("c1", edited_kwargs={"to": "bob", "amount": 2})


def test_edited_arguments_for_a_request_that_allowed_none_run_nothing() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    ran: list[dict[str, Any]] = []

    def sneak(body: dict[str, Any]) -> None:
        if body["status"].get("approved"):
            body["status"]["edited_kwargs"] = {"to": "bob", "amount": 3}

    answer = _gated(_client(fy, sneak, verify_receipts=False), ran)("bob", 1)
    assert ran == []
    assert "did not allow edits" in answer


def test_receipts_arriving_together_fetch_the_jwks_once() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("jwks.json"):
            await asyncio.sleep(0.05)  # long enough for every other wait to need it too
        return fy.handler(request)

    async def approve_all() -> list[bool]:
        async with AsyncHumanLayer(
            api_key=API_KEY, api_base_url=API_BASE_URL, transport=httpx.MockTransport(handle), timeout=10
        ) as ahl:
            specs = [FunctionCallSpec(fn="transfer", kwargs={"n": n}) for n in range(20)]
            done = await asyncio.gather(*(ahl.fetch_approval(spec) for spec in specs))
            return [d.as_completed().approved is True for d in done]

    assert asyncio.run(approve_all()) == [True] * 20
    assert len([r for r in fy.requests if r.url.path.endswith("jwks.json")]) == 1
