"""Signed decision receipts and edit-before-approve over the API: each receipt is checked with an
independent JOSE library (joserfc) against the server's JWKS, never with our own verifier."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from starlette.testclient import TestClient

from foureyes.server.service import Service
from foureyes.storage.schema import decisions, signing_keys

from .conftest import assert_error

JWKS = "/.well-known/foureyes/jwks.json"


def _claims(client: TestClient, receipt: str) -> dict[str, Any]:
    """The receipt's claims, verified by joserfc with the keys the server publishes."""
    published = client.get(JWKS)
    assert published.status_code == 200
    keys = KeySet.import_key_set(published.json())
    token = jws.deserialize_compact(receipt, keys, algorithms=["Ed25519"])
    assert token.headers()["alg"] == "Ed25519"
    assert token.headers()["kid"] in {k["kid"] for k in published.json()["keys"]}

    claims: dict[str, Any] = json.loads(token.payload)
    return claims


def _digest(value: Any) -> str:
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def test_an_approval_carries_a_receipt_that_verifies_with_the_published_keys(
    client: TestClient, agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call(kwargs={"x": 2, "y": 5, "note": "é"}))
    status = reviewer.post("/agent/function_calls/call-1/respond", {"approved": True}).json()["status"]
    claims = _claims(client, status["receipt"])
    assert claims["call_id"] == "call-1"
    assert claims["project"] == "default"
    assert claims["kind"] == "function_call"
    assert claims["fn"] == "multiply"
    assert claims["args_sha256"] == _digest({"x": 2, "y": 5, "note": "é"})
    assert claims["edited"] is False
    assert claims["outcome"] == "approved"
    assert claims["channel"] == "api"
    assert claims["decided_by"] == {"email": None, "name": None, "key_id": reviewer.key_id}
    assert claims["expires_at"] is None
    assert datetime.fromisoformat(claims["decided_at"]) == datetime.fromisoformat(status["responded_at"])
    # The receipt is stored with the decision: reading the call again gives the same one.
    assert agent.get("/function_calls/call-1").json()["status"]["receipt"] == status["receipt"]


def test_rejections_answers_and_expiries_are_signed_too(
    client: TestClient,
    service: Service,
    agent: Any,
    reviewer: Any,
    make_function_call: Any,
    make_human_contact: Any,
) -> None:
    agent.post("/function_calls", make_function_call("no"))
    rejected = reviewer.post(
        "/agent/function_calls/no/respond", {"approved": False, "comment": "nope"}
    ).json()
    assert _claims(client, rejected["status"]["receipt"])["outcome"] == "rejected"

    agent.post("/contact_requests", make_human_contact("q", subject="s"))
    answered = reviewer.post("/agent/human_contacts/q/respond", {"response": "formal"}).json()
    claims = _claims(client, answered["status"]["receipt"])
    assert claims["kind"] == "human_contact"
    assert claims["outcome"] == "responded"
    assert claims["args_sha256"] == _digest({"msg": "Formal or casual?", "subject": "s"})
    assert claims["response_sha256"] == hashlib.sha256(b"formal").hexdigest()

    deadline = (datetime.now(UTC) + timedelta(minutes=1)).replace(microsecond=0)
    agent.post("/function_calls", {**make_function_call("late"), "expires_at": deadline.isoformat()})
    service.decisions.expire(service.items.get_function_call(agent.project_id, "late"))
    expired = agent.get("/function_calls/late").json()["status"]
    claims = _claims(client, expired["receipt"])
    assert claims["outcome"] == "expired"
    assert claims["channel"] == "deadline"
    assert claims["decided_by"] == {"email": None, "name": None, "key_id": None}
    assert datetime.fromisoformat(claims["expires_at"]) == deadline


def test_a_rotated_key_keeps_old_receipts_valid(
    client: TestClient, service: Service, agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("before"))
    old = reviewer.post("/agent/function_calls/before/respond", {"approved": True}).json()["status"][
        "receipt"
    ]
    new_kid = service.receipts.rotate()
    agent.post("/function_calls", make_function_call("after"))
    new = reviewer.post("/agent/function_calls/after/respond", {"approved": True}).json()["status"]["receipt"]
    kids = [key["kid"] for key in client.get(JWKS).json()["keys"]]
    assert kids[0] == new_kid
    assert len(kids) == 2
    assert jws.extract_compact(new.encode()).headers()["kid"] == new_kid
    assert jws.extract_compact(old.encode()).headers()["kid"] == kids[1]
    assert _claims(client, old)["call_id"] == "before"
    assert _claims(client, new)["call_id"] == "after"


def test_signing_keys_are_sealed_at_rest(
    service: Service, agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    reviewer.post("/agent/function_calls/call-1/respond", {"approved": True})
    with service.db.read() as conn:
        stored = conn.execute(select(signing_keys.c.private_key)).scalars().all()
    assert stored
    assert all(value.startswith("sealed:v1:") for value in stored)


def test_a_receipt_does_not_follow_a_decision_changed_in_the_database(
    client: TestClient, service: Service, agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    body = reviewer.post("/agent/function_calls/call-1/respond", {"approved": True}).json()
    with service.db.write() as tx:
        tx.execute(update(decisions).values(edited_kwargs='{"x": 2, "y": 500}'))
    tampered = agent.get("/function_calls/call-1").json()["status"]
    assert tampered["edited_kwargs"] == {"x": 2, "y": 500}
    # The signature still holds, over the arguments that were really approved.
    assert _claims(client, tampered["receipt"])["args_sha256"] == _digest(body["spec"]["kwargs"])


# ---------------------------------------------------------------- edit before approve


def test_an_edit_is_approved_where_the_request_allows_it(
    client: TestClient, agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    created = agent.post("/function_calls", {**make_function_call(), "allow_edit": True}).json()
    assert created["status"]["allow_edit"] is True
    edited = {"x": 2, "y": 3}
    body = reviewer.post(
        "/agent/function_calls/call-1/respond", {"approved": True, "edited_kwargs": edited}
    ).json()
    assert body["status"]["edited_kwargs"] == edited
    assert body["spec"]["kwargs"] == {"x": 2, "y": 5}  # what was asked stays as asked
    claims = _claims(client, body["status"]["receipt"])
    assert claims["edited"] is True
    assert claims["args_sha256"] == _digest(edited)


def test_an_edit_that_changes_nothing_is_no_edit(agent: Any, reviewer: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", {**make_function_call(), "allow_edit": True})
    same = {"approved": True, "edited_kwargs": {"y": 5, "x": 2}}
    status = reviewer.post("/agent/function_calls/call-1/respond", same).json()["status"]
    assert "edited_kwargs" not in status


def test_edits_are_refused_where_not_allowed_or_in_a_rejection(
    agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    refused = reviewer.post(
        "/agent/function_calls/call-1/respond", {"approved": True, "edited_kwargs": {"x": 9}}
    )
    error = assert_error(refused, 422, "validation_error")
    assert "does not allow edits" in error["message"]
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is None

    agent.post("/function_calls", {**make_function_call("e"), "allow_edit": True})
    rejection = {"approved": False, "comment": "no", "edited_kwargs": {"x": 9}}
    assert_error(reviewer.post("/agent/function_calls/e/respond", rejection), 422, "validation_error")
    assert_error(
        agent.post("/function_calls", {**make_function_call("bad"), "allow_edit": "yes"}),
        422,
        "validation_error",
    )
    huge = {"approved": True, "edited_kwargs": {"x": 2**60}}
    assert_error(reviewer.post("/agent/function_calls/e/respond", huge), 422, "validation_error")
    assert agent.get("/function_calls/e").json()["status"]["approved"] is None
