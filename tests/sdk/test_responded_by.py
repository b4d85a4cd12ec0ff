"""Our models expose who decided (``status.responded_by``); HumanLayer's ignore it."""

from __future__ import annotations

import humanlayer

import foureyes

WIRE = {
    "run_id": "r",
    "call_id": "c",
    "spec": {"fn": "f", "kwargs": {}},
    "status": {
        "requested_at": "2026-01-01T00:00:00+00:00",
        "responded_at": "2026-01-01T00:01:00+00:00",
        "approved": True,
        "comment": None,
        "responded_by": {"email": "ana@example.com", "name": "Ana", "channel": "inbox"},
    },
}


def test_our_models_expose_who_decided() -> None:
    status = foureyes.FunctionCall.model_validate(WIRE).status
    assert status is not None
    assert status.responded_by == foureyes.RespondedBy(email="ana@example.com", name="Ana", channel="inbox")
    contact = foureyes.HumanContact.model_validate(
        {
            "run_id": "r",
            "call_id": "h",
            "spec": {"msg": "?"},
            "status": {"response": "yes", "responded_by": {"email": None, "name": None, "channel": "api"}},
        }
    )
    assert contact.status is not None
    assert contact.status.responded_by == foureyes.RespondedBy(channel="api")


def test_pending_items_have_nobody_yet() -> None:
    pending = {**WIRE, "status": {"approved": None}}
    status = foureyes.FunctionCall.model_validate(pending).status
    assert status is not None
    assert status.responded_by is None


def test_the_official_models_ignore_it() -> None:
    call = humanlayer.FunctionCall.model_validate(WIRE)
    assert call.status.approved is True
    assert not hasattr(call.status, "responded_by")
