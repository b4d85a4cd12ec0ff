"""/openapi.json describes every JSON endpoint, and real answers of each match it.

Every operation in the description is called with an agent key and a reviewer key (successes
and errors), and each answer is validated against the description's schema for it (jsonschema,
draft 2020-12 as OpenAPI 3.1 uses)."""

from __future__ import annotations

from typing import Any

import jsonschema
from referencing import Registry, Resource
from starlette.testclient import TestClient

API = "/humanlayer/v1"


def validator_for(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    responses = spec["paths"][path][method]["responses"]
    answer = responses.get(str(status), responses["default"])
    schema = answer["content"]["application/json"]["schema"]
    root = Resource.from_contents(spec | {"$schema": "https://json-schema.org/draft/2020-12/schema"})
    registry: Registry[Any] = Registry().with_resource("urn:openapi", root)
    ref = schema["$ref"].replace("#", "urn:openapi#") if "$ref" in schema else None
    wrapped = {"$ref": ref} if ref else schema
    return jsonschema.Draft202012Validator(wrapped, registry=registry)


def test_every_answer_matches_the_description(
    client: TestClient, agent: Any, reviewer: Any, make_function_call: Any, make_human_contact: Any
) -> None:
    served = client.get("/openapi.json")
    assert served.status_code == 200
    spec = served.json()
    assert spec["openapi"].startswith("3.1")
    assert not [p for p in spec["paths"] if p.startswith("/inbox")]
    checked: set[tuple[str, str]] = set()

    def call(who: Any, method: str, template: str, path: str, body: Any = None, status: int = 200) -> None:
        caller = client if who is None else who.client
        headers = {} if who is None else who.headers
        response = caller.request(method.upper(), path, json=body, headers=headers)
        assert response.status_code == status, (path, response.text)
        if template == "/metrics" and status == 200:
            assert response.headers["content-type"].startswith("text/plain")
        else:
            errors = list(validator_for(spec, template, method, status).iter_errors(response.json()))
            assert not errors, (template, status, [e.message for e in errors], response.json())
        checked.add((method, template))

    fc, hc = f"{API}/function_calls", f"{API}/human_contacts"
    call(agent, "post", fc, fc, make_function_call("a"))
    call(agent, "post", fc, fc, make_function_call("b"))
    call(agent, "post", fc, fc, {"call_id": 1}, 422)
    call(agent, "get", f"{fc}/{{call_id}}", f"{fc}/a")
    call(agent, "get", f"{fc}/{{call_id}}", f"{fc}/nope", status=404)
    call(reviewer, "get", f"{API}/agent/function_calls/pending", f"{API}/agent/function_calls/pending")
    call(
        agent,
        "post",
        f"{API}/agent/function_calls/{{call_id}}/escalate_email",
        f"{API}/agent/function_calls/a/escalate_email",
        {"escalation_msg": "look"},
    )
    respond = f"{API}/agent/function_calls/{{call_id}}/respond"
    call(reviewer, "post", respond, f"{API}/agent/function_calls/a/respond", {"approved": True})
    call(
        reviewer,
        "post",
        respond,
        f"{API}/agent/function_calls/b/respond",
        {"approved": False, "comment": "no"},
    )
    call(reviewer, "post", respond, f"{API}/agent/function_calls/a/respond", {"approved": True}, 409)
    call(agent, "post", respond, f"{API}/agent/function_calls/a/respond", {"approved": True}, 403)
    bulk = f"{API}/agent/function_calls/respond"
    call(agent, "post", fc, fc, make_function_call("c"))
    verdicts = [{"call_id": "c", "approved": True}, {"call_id": "a", "approved": True}]
    call(reviewer, "post", bulk, bulk, {"decisions": verdicts})  # one decided, one skipped
    call(reviewer, "post", bulk, bulk, {"decisions": []}, 422)
    call(agent, "get", f"{fc}/{{call_id}}", f"{fc}/a")
    for create, get in (
        (hc, f"{hc}/{{call_id}}"),
        (f"{API}/contact_requests", f"{API}/contact_requests/{{call_id}}"),
    ):
        call(agent, "post", create, create, make_human_contact(f"h-{create[-4:]}"))
        call(agent, "get", get, get.replace("{call_id}", f"h-{create[-4:]}"))
    call(reviewer, "get", f"{API}/agent/human_contacts/pending", f"{API}/agent/human_contacts/pending")
    call(
        agent,
        "post",
        f"{API}/agent/human_contacts/{{call_id}}/escalate_email",
        f"{API}/agent/human_contacts/h-acts/escalate_email",
        {"escalation_msg": "look"},
    )
    call(
        reviewer,
        "post",
        f"{API}/agent/human_contacts/{{call_id}}/respond",
        f"{API}/agent/human_contacts/h-acts/respond",
        {"response": "formal"},
    )
    call(agent, "get", f"{API}/project", f"{API}/project")
    call(None, "get", f"{API}/project", f"{API}/project", status=401)
    call(None, "get", "/healthz", "/healthz")
    call(None, "get", "/readyz", "/readyz")
    jwks = "/.well-known/foureyes/jwks.json"
    call(None, "get", jwks, jwks)
    call(None, "get", "/metrics", "/metrics", status=403)

    described = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert described == checked, described ^ checked
