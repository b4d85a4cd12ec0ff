"""Approver groups: a request may need approvals from members of named groups (all of them, any
of them, M of them); one person counts for one group, a non-member's approval is refused, an
unknown group is refused at create and when a rule is written, and the official SDK keeps
waiting (approved null) until the groups are met."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import humanlayer
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from foureyes.cli.review import approval_progress
from foureyes.models import FunctionCall
from foureyes.server.audit.verify import verify
from foureyes.server.channels.email.links import PURPOSE, LinkClaim, LinkSigner
from foureyes.server.domain.approvers import Requirement, freeable, matching, unknown_groups
from foureyes.server.domain.errors import ConflictError, InvalidParameterError, NotFoundError
from foureyes.server.domain.rules import parse_action
from foureyes.server.service import Service
from foureyes.storage.schema import events, items

from ..db import decisions_of, get_item
from .conftest import Caller
from .inbox_helpers import Browser, make_person
from .test_long_poll import served


def _person(client: Any, service: Service, email: str) -> Caller:
    user, _ = service.people.add_user(email, "default", "reviewer")
    token = service.keys.create_personal_token(user.id, "default")
    principal = service.keys.authenticate(token.plaintext)
    return Caller(client, token.plaintext, token.id, principal.project_id)


@pytest.fixture
def people(client: Any, service: Service) -> dict[str, Caller]:
    """fin (finance), sec (security), both (finance and security), legal (legal), nobody (none)."""
    found = {
        name: _person(client, service, f"{name}@example.com")
        for name in ("fin", "fin2", "sec", "both", "legal", "nobody", "other")
    }
    service.groups.add("default", "finance", ["fin@example.com", "FIN2@example.com", "both@example.com"])
    service.groups.add("default", "security", ["sec@example.com", "both@example.com"])
    service.groups.add("default", "legal", ["legal@example.com"])
    return found


def _approve(caller: Caller, call_id: str = "call-1") -> Any:
    return caller.post(f"/agent/function_calls/{call_id}/respond", {"approved": True})


def _create(agent: Caller, make_function_call: Any, call_id: str = "call-1", **extra: Any) -> dict[str, Any]:
    created = agent.post("/function_calls", make_function_call(call_id) | extra)
    assert created.status_code == 200, created.text
    status: dict[str, Any] = created.json()["status"]
    return status


def test_all_of_needs_one_member_of_each_group_and_the_official_sdk_waits(
    app: FastAPI, service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    status = _create(agent, make_function_call, required_approvers={"all_of": ["finance", "security"]})
    assert status["approved"] is None
    assert status["required_approvals"] == 2
    assert status["required_approvers"] == {"all_of": ["finance", "security"]}
    assert status["approvals_needed"] == {
        "approvals": 2,
        "from_groups": 2,
        "groups": ["finance", "security"],
        "text": "finance and security",
    }

    with served(app) as port:
        hl = humanlayer.HumanLayer(api_key=agent.key, api_base_url=f"http://127.0.0.1:{port}/humanlayer/v1")
        first = _approve(people["fin"])
        assert first.status_code == 200, first.text
        pending = first.json()["status"]
        assert pending["approved"] is None
        assert pending["approvals"][0]["email"] == "fin@example.com"
        assert pending["approvals"][0]["groups"] == ["finance"]
        assert pending["approvals_needed"]["groups"] == ["security"]
        assert approval_progress(pending) == "1 of 2 approvals (fin@example.com); still needs security"
        # the extra status keys leave both SDKs' models valid, and still pending
        ours = FunctionCall.model_validate(first.json()).status
        assert ours is not None
        assert ours.approved is None
        seen = hl.get_function_call("call-1")
        assert seen.status is not None
        assert seen.status.approved is None

        # another finance member adds nothing: refused, and nothing is recorded
        refused = _approve(people["fin2"])
        assert refused.status_code == 403, refused.text
        assert "still needs security" in refused.json()["error"]["message"]

        second = _approve(people["sec"])
        assert second.status_code == 200, second.text
        seen = hl.get_function_call("call-1")
        assert seen.status is not None
        assert seen.status.approved is True
    done = second.json()["status"]
    assert "approvals_needed" not in done
    assert [(a["email"], a["groups"]) for a in done["approvals"]] == [
        ("fin@example.com", ["finance"]),
        ("sec@example.com", ["security"]),
    ]
    item = get_item(service.db, agent.project_id, "function_call", "call-1")
    assert item is not None
    assert [d.approver_groups for d in decisions_of(service.db, item.id)] == [("finance",), ("security",)]
    # the groups an approval counted for are in the tamper-evident log, checked against the rows
    assert verify(service.db).ok


def test_a_person_in_both_groups_cannot_satisfy_both(
    service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any, expect_error: Any
) -> None:
    _create(agent, make_function_call, required_approvers={"all_of": ["finance", "security"]})
    first = _approve(people["both"]).json()["status"]
    assert first["approved"] is None
    assert first["approvals_needed"]["text"] == "finance or security"
    assert approval_progress(first) == "1 of 2 approvals (both@example.com); still needs finance or security"
    assert _approve(people["both"]).status_code == 409
    expect_error(_approve(people["nobody"]), 403, "forbidden")
    # a finance-only approver completes it: 'both' then counts for security
    done = _approve(people["fin"]).json()["status"]
    assert done["approved"] is True


def test_a_non_members_approval_is_refused_and_changes_nothing(
    service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any, expect_error: Any
) -> None:
    _create(agent, make_function_call, required_approvers={"any_of": ["finance", "legal"]})
    error = expect_error(_approve(people["sec"]), 403, "forbidden")
    assert error["message"] == (
        "your approval would not count: 'call-1' still needs finance or legal, "
        "and you are in none of the groups still needed"
    )
    item = get_item(service.db, agent.project_id, "function_call", "call-1")
    assert item is not None
    assert item.state == "pending"
    assert decisions_of(service.db, item.id) == []
    # any_of: one member of either group is enough
    done = _approve(people["legal"]).json()["status"]
    assert done["approved"] is True
    assert done["required_approvals"] == 1
    assert done["approvals"][0]["groups"] == ["legal"]


def test_a_bulk_respond_counts_group_approvals_one_by_one(
    service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    # An any_of of one approval is still a group requirement: the batch's quick path (for items
    # its first approval completes) must not take it past the group check.
    _create(agent, make_function_call, "g-1", required_approvers={"any_of": ["finance", "legal"]})
    _create(agent, make_function_call, "g-2", required_approvers={"all_of": ["finance", "security"]})
    _create(agent, make_function_call, "plain")
    verdicts = [{"call_id": c, "approved": True} for c in ("g-1", "g-2", "plain")]
    results = people["sec"].post("/agent/function_calls/respond", {"decisions": verdicts}).json()["results"]
    assert [r["result"] for r in results] == ["skipped", "decided", "decided"]
    assert "would not count" in results[0]["reason"]
    assert results[1]["function_call"]["status"]["approved"] is None  # still needs finance
    assert results[1]["function_call"]["status"]["approvals"][0]["groups"] == ["security"]
    assert results[2]["function_call"]["status"]["approved"] is True
    first = get_item(service.db, agent.project_id, "function_call", "g-1")
    assert first is not None
    assert first.state == "pending"
    assert decisions_of(service.db, first.id) == []
    verdicts = [{"call_id": c, "approved": True} for c in ("g-1", "g-2")]
    results = people["fin"].post("/agent/function_calls/respond", {"decisions": verdicts}).json()["results"]
    assert [r["function_call"]["status"]["approved"] for r in results] == [True, True]


def test_m_of_n_needs_approvals_from_m_distinct_groups(
    agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    status = _create(
        agent, make_function_call, required_approvers={"at_least": 2, "of": ["finance", "security", "legal"]}
    )
    assert status["required_approvers"] == {"at_least": 2, "of": ["finance", "security", "legal"]}
    assert status["approvals_needed"]["text"] == "2 of finance, security, legal"
    assert _approve(people["fin"]).json()["status"]["approvals_needed"]["text"] == "security or legal"
    assert _approve(people["fin2"]).status_code == 403  # finance is counted already
    assert _approve(people["legal"]).json()["status"]["approved"] is True


def test_a_count_and_groups_both_hold(
    agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    _create(
        agent,
        make_function_call,
        required_approvals=3,
        required_approvers={"all_of": ["finance", "security"]},
    )
    assert _approve(people["fin"]).status_code == 200
    # one approval beyond the groups' may come from anyone ...
    anyone = _approve(people["nobody"]).json()["status"]
    assert anyone["approved"] is None
    assert anyone["approvals_needed"] == {
        "approvals": 1,
        "from_groups": 1,
        "groups": ["security"],
        "text": "security",
    }
    # ... but no second one: the last must come from security
    assert _approve(people["other"]).status_code == 403
    assert _approve(people["sec"]).json()["status"]["approved"] is True


def test_a_rejection_still_vetoes_and_a_key_cannot_count(
    agent: Caller, reviewer: Caller, people: dict[str, Caller], make_function_call: Any, expect_error: Any
) -> None:
    _create(agent, make_function_call, required_approvers={"any_of": ["finance"]})
    assert "approver groups" in expect_error(_approve(reviewer), 403, "forbidden")["message"]
    vetoed = people["nobody"].post(
        "/agent/function_calls/call-1/respond", {"approved": False, "comment": "no"}
    )
    assert vetoed.json()["status"]["approved"] is False


@pytest.mark.parametrize(
    "bad",
    [
        {"all_of": []},
        {"all_of": "finance"},
        {"any_of": ["finance", "finance"]},
        {"at_least": 3, "of": ["finance", "security"]},
        {"at_least": 0, "of": ["finance"]},
        {"at_least": True, "of": ["finance"]},
        {"all_of": ["no spaces"]},
        {"all_of": ["finance"], "any_of": ["legal"]},
        ["finance"],
        {"all_of": ["finance", "nosuchgroup"]},
    ],
)
def test_a_bad_or_unknown_requirement_is_refused_at_create(
    agent: Caller, people: dict[str, Caller], make_function_call: Any, expect_error: Any, bad: Any
) -> None:
    error = expect_error(
        agent.post("/function_calls", make_function_call() | {"required_approvers": bad}),
        422,
        "validation_error",
    )
    assert ["body", "required_approvers"] in [d["loc"] for d in error["details"]]
    if bad == {"all_of": ["finance", "nosuchgroup"]}:
        assert "no group named nosuchgroup" in error["message"]
    assert agent.get("/function_calls/call-1").status_code == 404


def test_a_policy_requires_groups(
    service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    service.policies.add("default", "two-sides", 'fn == "pay"', "require:all_of(finance,security)")
    assert service.policies.list_policies("default")[0].action == "require:all_of(finance,security)"
    status = agent.post("/function_calls", make_function_call(fn="pay")).json()["status"]
    assert status["required_approvers"] == {"all_of": ["finance", "security"]}
    assert status["required_approvals"] == 2
    assert _approve(people["sec"]).json()["status"]["approved"] is None
    assert _approve(people["fin"]).json()["status"]["approved"] is True
    # the rule's groups take the place of those the create named; the count only rises
    body = make_function_call("call-2", fn="pay") | {
        "required_approvers": {"any_of": ["legal"]},
        "required_approvals": 3,
    }
    status = agent.post("/function_calls", body).json()["status"]
    assert status["required_approvers"] == {"all_of": ["finance", "security"]}
    assert status["required_approvals"] == 3
    assert status["approvals_needed"]["text"] == "finance and security and 1 more from other people"


def test_a_policy_requires_a_count_and_groups_at_once(
    service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    service.policies.add("default", "three", 'fn == "pay"', "require:3+all_of(finance,security)")
    assert service.policies.list_policies("default")[0].action == "require:3+all_of(finance,security)"
    status = agent.post("/function_calls", make_function_call(fn="pay")).json()["status"]
    assert status["required_approvers"] == {"all_of": ["finance", "security"]}
    assert status["required_approvals"] == 3
    assert status["approvals_needed"]["text"] == "finance and security and 1 more from other people"
    assert _approve(people["fin"]).json()["status"]["approved"] is None
    assert _approve(people["sec"]).json()["status"]["approved"] is None
    # the third approval may come from anyone with a deciding role
    assert _approve(people["nobody"]).json()["status"]["approved"] is True
    # a create asking for more keeps its count: the rule only raises the bar
    body = make_function_call("call-2", fn="pay") | {"required_approvals": 5}
    assert agent.post("/function_calls", body).json()["status"]["required_approvals"] == 5


def test_an_email_link_counts_for_its_recipients_groups(
    service: Service, client: Any, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    channel = {"email": {"address": "sec@example.com"}}
    body = make_function_call(channel=channel) | {"required_approvers": {"all_of": ["finance", "security"]}}
    assert agent.post("/function_calls", body).status_code == 200
    assert _approve(people["fin"]).status_code == 200
    claim = LinkClaim(agent.project_id, "function_call", "call-1", "sec@example.com", int(time.time()) + 600)
    token = LinkSigner(service.db.box.derive(PURPOSE)).sign(claim)
    shown = client.get(f"/email/{token}")
    assert "1 of 2 approvals (fin@example.com); still needs security" in shown.text
    done = client.post(f"/email/{token}", data={"decision": "approve"})
    assert done.status_code == 200, done.text
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is True


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("require:all_of(finance,security)", "require:all_of(finance,security)"),
        ("require:any_of( finance , legal )", "require:any_of(finance,legal)"),
        ("require:2_of(a,b,c)", "require:2_of(a,b,c)"),
        ("require:1_of(a,b)", "require:any_of(a,b)"),
        ("require:2_of(a,b)", "require:all_of(a,b)"),
        ("require:3", "require:3"),
        ("require:3+all_of(finance,security)", "require:3+all_of(finance,security)"),
        ("require: 4 + 2_of( a , b , c )", "require:4+2_of(a,b,c)"),
        ("require:2+all_of(a,b)", "require:2+all_of(a,b)"),
    ],
)
def test_policy_group_actions_parse_and_print_back(text: str, spelled: str) -> None:
    assert str(parse_action(text)) == spelled
    assert str(parse_action(spelled)) == spelled


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "require:3_of(a,b)",
            "invalid action 'require:3_of(a,b)': at_least must be an integer from 1 to the number "
            "of groups (2)",
        ),
        ("require:all_of()", "group names are letters"),
        ("require:any_of(a,a)", "names a group twice"),
        ("require:some_of(a,b)", "require:GROUPS (all_of(A,B), any_of(A,B) or M_of(A,B,C))"),
        ("require:3+some_of(a,b)", "require:N+GROUPS"),
        ("require:1+all_of(a,b)", "all_of(a,b) already needs 2 approvals; write require:all_of(a,b)"),
        ("require:21+any_of(a)", "the count before '+' must be from 1 to 20"),
        ("require:+any_of(a)", "the count before '+' must be from 1 to 20"),
        ("require:3+3_of(a,b)", "at_least must be an integer from 1 to the number of groups (2)"),
    ],
)
def test_a_bad_group_action_is_refused_with_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(InvalidParameterError) as refused:
        parse_action(text)
    assert problem in refused.value.message


def test_a_rule_naming_an_unknown_group_is_refused(service: Service, people: dict[str, Caller]) -> None:
    with pytest.raises(InvalidParameterError, match="has no group named audit"):
        service.policies.add("default", "r", "true", "require:all_of(finance,audit)")
    with pytest.raises(InvalidParameterError, match=r"policy 'r2'.*no group named audit"):
        service.policies.apply("default", [{"name": "r2", "when": "true", "then": "require:any_of(audit)"}])
    assert service.policies.list_policies("default") == []


def test_a_removal_racing_a_create_that_names_the_group_waits_for_it(
    service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    # A create's transaction holds the groups it names; a removal at that moment waits for its
    # commit and then finds the request that needs the group (on PostgreSQL by the row lock,
    # on SQLite by its one writer).
    requirement = Requirement(("legal",), 1)
    checked, release = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def create() -> None:
        with service.db.write() as tx:
            assert unknown_groups(tx.conn, agent.project_id, requirement) == []
            checked.set()
            release.wait(10)
            tx.conn.execute(
                items.update()
                .where(items.c.project_id == agent.project_id, items.c.call_id == "racing")
                .values(approver_groups="legal", approver_groups_needed=1)
            )

    def remove() -> None:
        try:
            service.groups.remove("default", "legal")
            outcome.append(None)
        except ConflictError as exc:
            outcome.append(exc)

    _create(agent, make_function_call, "racing")
    creating = threading.Thread(target=create)
    creating.start()
    assert checked.wait(10)
    removing = threading.Thread(target=remove)
    removing.start()
    removing.join(0.5)
    assert removing.is_alive()  # held until the create commits
    release.set()
    creating.join(10)
    removing.join(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConflictError)
    assert "needed by 1 pending request(s) (racing)" in str(outcome[0])
    assert [g.name for g in service.groups.list_for(agent.project_id)] == ["finance", "legal", "security"]


def test_group_admin_and_what_cannot_be_removed(
    service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    with pytest.raises(InvalidParameterError, match="already has a group named 'finance'"):
        service.groups.add("default", "finance", [])
    with pytest.raises(InvalidParameterError, match=r"no person with the address ghost@example\.com"):
        service.groups.add("default", "ops", ["ghost@example.com"])
    with pytest.raises(InvalidParameterError, match="invalid group name"):
        service.groups.add("default", "a,b", [])
    changed = service.groups.change_members(
        "default", "legal", add=["nobody@example.com"], remove=["legal@example.com"]
    )
    assert changed.members == ("nobody@example.com",)

    service.policies.add("default", "uses-legal", "false", "require:any_of(legal)")
    with pytest.raises(ConflictError, match="named by policy uses-legal"):
        service.groups.remove("default", "legal")
    service.policies.remove("default", "uses-legal")
    _create(agent, make_function_call, required_approvers={"any_of": ["legal"]})
    with pytest.raises(ConflictError, match=r"needed by 1 pending request\(s\) \(call-1\)"):
        service.groups.remove("default", "legal")
    assert _approve(people["nobody"]).json()["status"]["approved"] is True
    service.groups.remove("default", "legal")
    # a replay of the stored request is that request, though its group is gone now
    assert _create(agent, make_function_call, required_approvers={"any_of": ["legal"]})["approved"] is True
    with pytest.raises(NotFoundError):
        service.groups.remove("default", "legal")
    assert [g.name for _, g in service.groups.list_groups("default")] == ["finance", "security"]

    with service.db.read() as conn:
        changes = conn.execute(
            select(events.c.type, events.c.data).where(events.c.type.like("group%")).order_by(events.c.id)
        ).all()
    assert [t for t, _ in changes] == [
        "group_added",
        "group_added",
        "group_added",
        "group_members_changed",
        "group_removed",
    ]
    assert verify(service.db).ok


def test_the_inbox_shows_what_is_still_needed_and_the_groups(
    app: FastAPI, service: Service, agent: Caller, people: dict[str, Caller], make_function_call: Any
) -> None:
    make_person(service, "gil@example.com", "default", "admin", "Gil")
    browser = Browser(app)
    browser.sign_in("gil@example.com")
    _create(agent, make_function_call, required_approvers={"all_of": ["finance", "security"]})
    assert _approve(people["fin"]).status_code == 200
    page = browser.client.get("/inbox/p/default/function_calls/call-1").text
    assert "1 of 2 approvals (fin@example.com); still needs security" in page
    # gil is in no group: the inbox says why the approval is refused
    refused = browser.post("/inbox/p/default/function_calls/call-1", {"action": "approve", "comment": ""})
    assert "still needs security" in refused.text
    admin_page = browser.client.get("/inbox/p/default/people").text
    assert "Approver groups" in admin_page
    assert "both@example.com, fin2@example.com, fin@example.com" in admin_page


def _most_matched(people: list[list[str]]) -> int:
    """How many approvers can each count for a group of their own, by trying every way."""
    if not people:
        return 0
    first, rest = people[0], people[1:]
    skip = _most_matched(rest)
    taken = [1 + _most_matched([[g for g in p if g != group] for p in rest]) for group in first]
    return max([skip, *taken])


def test_the_matching_and_the_groups_still_wanted_agree_with_trying_every_way() -> None:
    chance = random.Random(12)
    for _ in range(1500):
        groups = [f"g{i}" for i in range(chance.randint(1, 5))]
        people = [
            sorted(chance.sample(groups, chance.randint(0, len(groups)))) for _ in range(chance.randint(0, 5))
        ]
        owner = matching(people)
        most = _most_matched(people)
        assert len(owner) == most
        wanted = {g for g in groups if _most_matched([*people, [g]]) > most}
        assert freeable(groups, people, owner) == wanted
