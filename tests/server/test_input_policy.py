"""The input policy: nesting depth, size, Unicode, NUL, paging integers and strict booleans are
checked before anything is stored, on every route, with a 4xx in the one error envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.service import Service
from foureyes.server.settings import MAX_JSON_DEPTH_CEILING, Settings

from .inbox_helpers import Browser, make_person

DEPTH = Settings.max_json_depth


def nested(levels: int) -> str:
    """JSON text of ``levels`` nested arrays."""
    return "[" * levels + "]" * levels


def create_body(kwarg_json: str, call_id: str = "deep") -> bytes:
    # body (1) > spec (2) > kwargs (3) > the argument's own levels
    text = f'{{"run_id":"r","call_id":"{call_id}","spec":{{"fn":"f","kwargs":{{"x":{kwarg_json}}}}}}}'
    return text.encode()


def nothing_stored(agent: Any) -> None:
    assert agent.get("/agent/function_calls/pending").json()["total"] == 0


def test_nesting_at_the_limit_is_accepted(agent: Any) -> None:
    response = agent.post("/function_calls", content=create_body(nested(DEPTH - 3)))
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["kwargs"]["x"] == json.loads(nested(DEPTH - 3))


@pytest.mark.parametrize("levels", [DEPTH - 2, 950, 2000])
def test_nesting_past_the_limit_is_refused_and_nothing_stored(
    agent: Any, expect_error: Any, levels: int
) -> None:
    # 2000 levels is past what Python's parser itself can take: the same answer.
    response = agent.post("/function_calls", content=create_body(nested(levels)))
    error = expect_error(response, 422, "validation_error")
    assert f"deeper than {DEPTH} levels" in error["message"]
    assert "max_json_depth" in error["message"]
    assert error["details"][0]["type"] == "json_too_deep"
    nothing_stored(agent)
    expect_error(agent.get("/function_calls/deep"), 404, "not_found")


def test_deep_respond_and_escalate_bodies_are_refused(
    agent: Any, reviewer: Any, make_function_call: Any, expect_error: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    deep = f'{{"approved":false,"comment":"no","extra":{nested(100)}}}'.encode()
    escalated = agent.post("/agent/function_calls/call-1/escalate_email", content=deep)
    expect_error(escalated, 422, "validation_error")
    expect_error(reviewer.post("/agent/function_calls/call-1/respond", content=deep), 422, "validation_error")
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is None


def test_the_depth_limit_is_a_setting(database_url: str) -> None:
    from_env = Settings.from_env({"FOUREYES_MAX_JSON_DEPTH": "10"}, database_url=database_url)
    assert from_env.max_json_depth == 10
    for bad in (0, MAX_JSON_DEPTH_CEILING + 1):
        with pytest.raises(ValueError, match="max_json_depth"):
            Settings(database_url=database_url, max_json_depth=bad)


def test_oversize_body_names_the_limit(agent: Any, make_function_call: Any, expect_error: Any) -> None:
    body = make_function_call(kwargs={"pad": "x" * 5000})
    error = expect_error(agent.post("/function_calls", body), 413, "payload_too_large")
    assert "4096 bytes" in error["message"]
    assert "max_body_bytes" in error["message"]
    nothing_stored(agent)


@pytest.mark.parametrize(
    "raw",
    [
        # escaped in JSON, in a value and in a key
        create_body('"\\ud800"'),
        create_body('{"\\udfff": 1}'),
        # a surrogate encoded as UTF-8 bytes (ED A0 80), which the JSON parser lets through
        create_body('"a#b"').replace(b"#", b"\xed\xa0\x80"),
    ],
    ids=["escaped-value", "escaped-key", "utf8-bytes"],
)
def test_lone_surrogate_is_refused(agent: Any, expect_error: Any, raw: bytes) -> None:
    error = expect_error(agent.post("/function_calls", content=raw), 422, "validation_error")
    assert "surrogate" in error["message"]
    assert error["details"][0]["type"] == "string_not_allowed"
    nothing_stored(agent)


def test_non_finite_number_is_refused(agent: Any, expect_error: Any) -> None:
    # 1e400 parses as infinity, which no JSON encoder can write back.
    expect_error(agent.post("/function_calls", content=create_body("1e400")), 400, "invalid_json")
    nothing_stored(agent)


def test_nul_in_ids_and_arguments_is_refused(agent: Any, expect_error: Any) -> None:
    for raw in (create_body("1", call_id="a\\u0000b"), create_body('"a\\u0000b"')):
        error = expect_error(agent.post("/function_calls", content=raw), 422, "validation_error")
        assert "NUL" in error["message"]
    run_nul = b'{"run_id":"r\\u0000","call_id":"c","spec":{"msg":"hi"}}'
    expect_error(agent.post("/contact_requests", content=run_nul), 422, "validation_error")
    nothing_stored(agent)
    assert agent.get("/agent/human_contacts/pending").json()["total"] == 0


def test_nul_in_a_comment_is_refused(
    agent: Any, reviewer: Any, make_function_call: Any, make_human_contact: Any, expect_error: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    agent.post("/contact_requests", make_human_contact())
    response = reviewer.post("/agent/function_calls/call-1/respond", {"approved": False, "comment": "no\x00"})
    expect_error(response, 422, "validation_error")
    response = reviewer.post("/agent/human_contacts/hc-1/respond", {"response": "\x00"})
    expect_error(response, 422, "validation_error")
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is None
    assert agent.get("/contact_requests/hc-1").json()["status"]["response"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/function_calls/a%00b",
        "/contact_requests/a%00b",
        "/agent/function_calls/a%00b/respond",
        "/agent/function_calls/pending?offset=0&x=%00",
    ],
)
def test_nul_in_the_path_or_query_is_refused(agent: Any, reviewer: Any, expect_error: Any, path: str) -> None:
    caller = reviewer if path.endswith("respond") else agent
    send = caller.post if path.endswith("respond") else caller.get
    kw = {"content": b'{"approved": true}'} if path.endswith("respond") else {}
    error = expect_error(send(path, **kw), 400, "invalid_parameter")
    assert "NUL" in error["message"]


@pytest.mark.parametrize("offset", [str(2**63), str(2**64), str(2**31), "9" * 5000, "-1", "1_0", " 1"])
def test_offset_out_of_range_is_refused(agent: Any, expect_error: Any, offset: str) -> None:
    response = agent.get("/agent/function_calls/pending", params={"offset": offset})
    expect_error(response, 400, "invalid_parameter")
    response = agent.get("/agent/human_contacts/pending", params={"offset": offset})
    expect_error(response, 400, "invalid_parameter")


def test_largest_offset_is_answered(agent: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", make_function_call())
    page = agent.get("/agent/function_calls/pending", params={"offset": 2**31 - 1}).json()
    assert (page["items"], page["total"], page["has_more"]) == ([], 1, False)


@pytest.mark.parametrize("approved", ["yes", "true", 1, 0, "false", [True]])
def test_approved_must_be_a_json_boolean(
    agent: Any, reviewer: Any, make_function_call: Any, expect_error: Any, approved: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    response = reviewer.post("/agent/function_calls/call-1/respond", {"approved": approved, "comment": "x"})
    error = expect_error(response, 422, "validation_error")
    assert error["details"][0]["loc"] == ["body", "approved"]
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is None


def test_other_booleans_are_strict_too(agent: Any, make_function_call: Any, expect_error: Any) -> None:
    body = make_function_call(reject_options=[{"name": "a", "interactive": "yes"}])
    expect_error(agent.post("/function_calls", body), 422, "validation_error")
    body = make_function_call(channel={"slack": {"channel_or_user_id": "C1", "experimental_slack_blocks": 1}})
    expect_error(agent.post("/function_calls", body), 422, "validation_error")
    nothing_stored(agent)


# ---------------------------------------------------------------- the inbox


@pytest.fixture
def signed_in(app: FastAPI, client: Any, service: Service) -> Browser:
    make_person(service, "rev@example.com", "default", "reviewer")
    browser = Browser(app)
    assert browser.sign_in("rev@example.com").status_code == 303
    return browser


@pytest.mark.parametrize(
    "path",
    [
        "/inbox/p/default?q=%00",
        "/inbox/p/default/history?q=a%00",
        "/inbox/p/default?run=%00",
        "/inbox/p/default/function_calls/a%00b",
        "/inbox/p/de%00fault",
    ],
)
def test_inbox_nul_in_the_search_or_path_is_refused(signed_in: Browser, path: str) -> None:
    response = signed_in.get(path)
    assert response.status_code == 400, response.text
    assert "NUL" in response.text


def test_inbox_nul_in_a_form_is_refused(signed_in: Browser, agent: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", make_function_call())
    url = "/inbox/p/default/function_calls/call-1"
    response = signed_in.post(url, {"action": "reject", "comment": "no\x00"})
    assert response.status_code == 400, response.text
    assert "NUL" in response.text
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is None
    # the sign-in form, on the same policy
    response = signed_in.client.post("/inbox/login", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 400
