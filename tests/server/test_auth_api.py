"""Keys, scopes and project isolation."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from foureyes.server.service import Service

API = "/humanlayer/v1"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer fe_not_a_real_key"},
    ],
)
def test_missing_or_bad_key_is_401_json(
    client: TestClient, expect_error: Any, headers: dict[str, str]
) -> None:
    response = client.get(f"{API}/function_calls/x", headers=headers)
    expect_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_bearer_scheme_is_case_insensitive(client: TestClient, agent: Any) -> None:
    response = client.get(f"{API}/project", headers={"Authorization": f"bearer {agent.key}"})
    assert response.status_code == 200


def test_revoked_key_is_401(agent: Any, service: Service, expect_error: Any) -> None:
    assert agent.get("/project").status_code == 200
    assert service.keys.revoke_api_key(agent.key_id)
    assert not service.keys.revoke_api_key(agent.key_id)
    error = expect_error(agent.get("/project"), 401, "unauthorized")
    assert "revoked" in error["message"]


def test_keys_are_stored_hashed(service: Service) -> None:
    created = service.keys.create_api_key(project="p1", scopes=["agent", "respond"], name="ci")
    assert created.plaintext.startswith("fe_")
    assert len(created.plaintext) > 40
    assert created.plaintext.startswith(created.prefix)
    assert (created.project, created.scopes, created.name) == ("p1", ("agent", "respond"), "ci")
    with service.db.engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM api_keys"))
    assert created.plaintext not in dump
    [listed] = service.keys.list_api_keys("p1")
    assert listed.prefix == created.prefix
    assert listed.revoked_at is None


@pytest.mark.parametrize(
    ("project", "scopes"), [("", ["agent"]), ("bad slug", ["agent"]), ("ok", []), ("ok", ["admin"])]
)
def test_create_api_key_validates(service: Service, project: str, scopes: list[str]) -> None:
    with pytest.raises(ValueError, match=r"project|scopes"):
        service.keys.create_api_key(project=project, scopes=scopes)


def test_agent_key_cannot_respond(agent: Any, make_function_call: Any, expect_error: Any) -> None:
    agent.post("/function_calls", make_function_call())
    expect_error(agent.post("/agent/function_calls/call-1/respond", {"approved": True}), 403, "forbidden")
    expect_error(agent.post("/agent/human_contacts/call-1/respond", {"response": "x"}), 403, "forbidden")
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is None


def test_respond_key_cannot_create_get_or_escalate(
    reviewer: Any, make_function_call: Any, make_human_contact: Any, expect_error: Any
) -> None:
    expect_error(reviewer.post("/function_calls", make_function_call()), 403, "forbidden")
    expect_error(reviewer.post("/contact_requests", make_human_contact()), 403, "forbidden")
    expect_error(reviewer.get("/function_calls/call-1"), 403, "forbidden")
    expect_error(reviewer.get("/contact_requests/hc-1"), 403, "forbidden")
    expect_error(
        reviewer.post("/agent/function_calls/c/escalate_email", {"escalation_msg": "x"}), 403, "forbidden"
    )
    expect_error(
        reviewer.post("/agent/human_contacts/c/escalate_email", {"escalation_msg": "x"}), 403, "forbidden"
    )


def test_both_scopes_read_pending_and_project(agent: Any, reviewer: Any) -> None:
    for caller in (agent, reviewer):
        assert caller.get("/agent/function_calls/pending").status_code == 200
        assert caller.get("/agent/human_contacts/pending").status_code == 200
        assert caller.get("/project").json() == {
            "name": "default",
            "slug": "default",
            "organization": "foureyes",
        }


def test_another_projects_items_are_not_found(
    agent: Any,
    reviewer: Any,
    outsider: Any,
    make_function_call: Any,
    make_human_contact: Any,
    expect_error: Any,
) -> None:
    agent.post("/function_calls", make_function_call())
    agent.post("/contact_requests", make_human_contact())
    expect_error(outsider.get("/function_calls/call-1"), 404, "not_found")
    expect_error(outsider.get("/contact_requests/hc-1"), 404, "not_found")
    expect_error(outsider.post("/agent/function_calls/call-1/respond", {"approved": True}), 404, "not_found")
    expect_error(outsider.post("/agent/human_contacts/hc-1/respond", {"response": "x"}), 404, "not_found")
    escalation = {"escalation_msg": "x"}
    expect_error(outsider.post("/agent/function_calls/call-1/escalate_email", escalation), 404, "not_found")
    assert outsider.get("/agent/function_calls/pending").json()["total"] == 0
    assert outsider.get("/agent/human_contacts/pending").json()["total"] == 0
    assert outsider.get("/project").json()["slug"] == "other"

    # The same call id in another project is another item, not a conflict.
    mine = outsider.post("/function_calls", make_function_call(kwargs={"other": True}))
    assert mine.status_code == 200
    assert agent.get("/function_calls/call-1").json()["spec"]["kwargs"] == {"x": 2, "y": 5}
    assert reviewer.get("/agent/function_calls/pending").json()["total"] == 1


def test_healthz_needs_no_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
