"""The audit log end to end, on each backend: a mixed workload verifies; a decision, an item's
arguments, an audit row or the log's length changed behind the server's back do not, and the
failure names the entry; an item's inclusion proofs verify against the signed checkpoint."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from foureyes.server.audit.proofs import check_proof, prove
from foureyes.server.audit.verify import verify
from foureyes.storage import audit as audit_rows
from foureyes.storage.schema import audit_head, audit_log, decisions, items

from ..webhooks.receiver import Receiver
from .conftest import World, mixed_workload

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _kinds(world: World) -> list[str]:
    with world.service.db.read() as conn:
        return [e.kind for e in audit_rows.entries(conn)]


def _entries_of(world: World, call_id: str) -> list[dict[str, object]]:
    with world.service.db.read() as conn:
        return [json.loads(e.entry) for e in audit_rows.for_call(conn, call_id)]


async def test_a_mixed_workload_is_logged_densely_and_verifies(world: World, receiver: Receiver) -> None:
    await mixed_workload(world, receiver)
    assert world.service.audit.checkpoint() is not None
    kinds = _kinds(world)
    assert kinds[0] == "log_started"
    for kind in (
        "key_created",
        "created",
        "decided",
        "escalated",
        "key_revoked",
        "user_created",
        "role_granted",
        "invitation_created",
        "endpoint_added",
        "endpoint_disabled",
        "delivery_attempt",
    ):
        assert kind in kinds, kind
    with world.service.db.read() as conn:
        assert [e.seq for e in audit_rows.entries(conn)] == list(range(len(kinds)))
    late = _entries_of(world, "late")
    assert [e["kind"] for e in late][:2] == ["created", "decided"]
    assert late[1]["data"]["decision"]["verdict"] == "expired"  # type: ignore[index]
    attempts = [e for e in _entries_of(world, "call-0") if e["kind"] == "delivery_attempt"]
    assert [a["data"]["outcome"] for a in attempts][:1] == ["pending"]  # type: ignore[index]
    assert "succeeded" in [a["data"]["outcome"] for a in attempts]  # type: ignore[index]
    report = verify(world.service.db)
    assert report.ok, report.problems
    assert report.entries == len(kinds)
    assert report.checkpoints == 1
    # more changes, then another checkpoint: both checkpoints verify
    world.call("call-9")
    world.service.audit.checkpoint()
    report = verify(world.service.db, pinned_key=world.service.audit.verifier_key())
    assert report.ok
    assert report.checkpoints == 2


def _index_of(world: World, call_id: str, kind: str) -> int:
    return next(int(e["index"]) for e in _entries_of(world, call_id) if e["kind"] == kind)  # type: ignore[call-overload]


async def test_a_decision_changed_in_the_database_fails_and_names_its_entry(
    world: World, receiver: Receiver
) -> None:
    await mixed_workload(world, receiver)
    world.service.audit.checkpoint()
    rejected = world.service.items.get_function_call(world.project_id, "call-1")
    with world.service.db.write() as tx:
        tx.execute(
            update(decisions).where(decisions.c.id == rejected.decisions[-1].id).values(verdict="approved")
        )
        tx.execute(update(items).where(items.c.id == rejected.id).values(state="approved"))
    report = verify(world.service.db)
    first = report.first()
    assert first is not None
    entry = _index_of(world, "call-1", "decided")
    assert first.index == entry
    assert f"entry {entry}" in first.message
    assert "verdict" in first.message


async def test_edited_arguments_fail_at_the_items_created_entry(world: World) -> None:
    world.call("pay", amount=5)
    world.decide("pay", True)
    with world.service.db.write() as tx:
        spec = json.loads(tx.execute(select(items.c.spec).where(items.c.call_id == "pay")).scalar_one())
        spec["kwargs"]["amount"] = 5000
        tx.execute(update(items).where(items.c.call_id == "pay").values(spec=json.dumps(spec)))
    first = verify(world.service.db).first()
    assert first is not None
    assert first.index == _index_of(world, "pay", "created")
    assert "arguments" in first.message


async def test_a_changed_audit_row_fails(world: World) -> None:
    world.call("a")
    world.decide("a", False)
    world.service.audit.checkpoint()
    index = _index_of(world, "a", "decided")
    with world.service.db.write() as tx:
        entry = tx.execute(select(audit_log.c.entry).where(audit_log.c.seq == index)).scalar_one()
        tx.execute(
            update(audit_log).where(audit_log.c.seq == index).values(entry=entry.replace('"no"', '"ok"'))
        )
    first = verify(world.service.db).first()
    assert first is not None
    assert first.index == index
    assert "was changed" in first.message


async def test_a_rewritten_audit_row_with_its_hash_fails_at_the_checkpoint(world: World) -> None:
    world.call("a")
    world.decide("a", False)
    world.service.audit.checkpoint()
    index = _index_of(world, "a", "decided")
    from foureyes.server.audit import merkle

    with world.service.db.write() as tx:
        entry = tx.execute(select(audit_log.c.entry).where(audit_log.c.seq == index)).scalar_one()
        forged = entry.replace('"no"', '"ok"')
        leaf = merkle.leaf_hash(forged.encode()).hex()
        tx.execute(update(audit_log).where(audit_log.c.seq == index).values(entry=forged, leaf_hash=leaf))
    report = verify(world.service.db)
    assert any("checkpoint" in p.message and "does not match the log" in p.message for p in report.problems)
    # and the rewritten comment no longer matches the decision row either, at that entry
    assert any(p.index == index and "comment" in p.message for p in report.problems)


async def test_a_log_truncated_below_its_checkpoint_fails(world: World) -> None:
    for n in range(3):
        world.call(f"t-{n}")
    checkpoint = world.service.audit.checkpoint()
    assert checkpoint is not None
    size = checkpoint.tree_size
    with world.service.db.write() as tx:
        tx.execute(audit_log.delete().where(audit_log.c.seq >= size - 2))
        tx.execute(update(audit_head).values(size=size - 2))
    report = verify(world.service.db)
    assert not report.ok
    assert any(f"the log has only {size - 2}" in p.message for p in report.problems)


async def test_an_items_entries_are_proved_against_the_checkpoint(world: World, receiver: Receiver) -> None:
    await mixed_workload(world, receiver)
    world.service.audit.checkpoint()
    world.decide("call-3", True)  # after the checkpoint: not yet provable
    document = json.loads(json.dumps(prove(world.service.db, "call-0")))
    assert len(document["proofs"]) >= 2
    assert document["not_checkpointed"] == []
    vkey = world.service.audit.verifier_key()
    assert check_proof(document, vkey) == []
    later = prove(world.service.db, "call-3")
    assert later["not_checkpointed"]
    assert check_proof(later, vkey) == []
    forged = json.loads(json.dumps(document))
    forged["proofs"][0]["entry"] = forged["proofs"][0]["entry"].replace("call-0", "call-X")
    assert check_proof(forged, vkey) == [
        f"entry {forged['proofs'][0]['index']} is not in the checkpointed tree"
    ]
    other = "x/audit+00000000+AQ" + "A" * 42 + "="
    assert check_proof(document, other) != []


async def test_quorum_policy_and_edited_decisions_are_logged_and_checked(world: World) -> None:
    """The decisions issue 12 adds (one approval of several, a rule's decision, approved edited
    arguments with their receipt) are log entries like any other, and verify compares them."""
    service = world.service
    ada, _ = service.people.add_user("ada@example.com", "default", "reviewer")
    bob, _ = service.people.add_user("bob@example.com", "default", "reviewer")
    service.policies.add("default", "small", 'fn == "auto"', "approve")
    quorum = {"run_id": "r", "call_id": "two", "spec": {"fn": "wire", "kwargs": {}}, "required_approvals": 2}
    service.items.create_function_call(world.project_id, quorum)
    edit = {
        "run_id": "r",
        "call_id": "edit",
        "spec": {"fn": "wire", "kwargs": {"usd": 400}},
        "allow_edit": True,
    }
    service.items.create_function_call(world.project_id, edit)
    auto = service.items.create_function_call(
        world.project_id, {"run_id": "r", "call_id": "auto", "spec": {"fn": "auto", "kwargs": {}}}
    )
    assert auto.state == "approved"
    for user in (ada, bob):
        service.decisions.decide_function_call(
            world.project_id, "two", approved=True, channel="inbox", actor_key_id=None, actor_user_id=user.id
        )
    service.decisions.decide_function_call(
        world.project_id,
        "edit",
        approved=True,
        channel="inbox",
        actor_key_id=None,
        actor_user_id=ada.id,
        edited_kwargs={"usd": 40},
    )
    assert [e["kind"] for e in _entries_of(world, "two")] == ["created", "approval", "decided"]
    assert _entries_of(world, "auto")[1]["data"]["decision"]["policy"] == "small"  # type: ignore[index]
    logged = _entries_of(world, "edit")[1]["data"]["decision"]  # type: ignore[index]
    assert logged["edited_kwargs"] == {"usd": 40}  # type: ignore[index]
    assert logged["receipt"]  # type: ignore[index]
    world.service.audit.checkpoint()
    report = verify(service.db)
    assert report.ok, report.problems
    # The approved arguments changed behind the server's back: named at the decision's entry.
    edited = service.items.get_function_call(world.project_id, "edit").decisions[-1]
    with service.db.write() as tx:
        tx.execute(update(decisions).where(decisions.c.id == edited.id).values(edited_kwargs='{"usd": 4000}'))
    first = verify(service.db).first()
    assert first is not None
    assert first.index == _index_of(world, "edit", "decided")
    assert "edited_kwargs" in first.message
