"""``/openapi.json``: an OpenAPI 3.1 description of the JSON API (not the inbox's HTML pages).

The handlers parse their bodies by hand (to enforce the size, depth and text rules before any
model sees them), so FastAPI alone would describe no bodies. The paths and parameters come from
FastAPI; the bodies come from the SDK's wire models (``foureyes.models``, the same ones the SDK
parses answers with), and every operation's errors from the one error envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from foureyes import models

API = "/humanlayer/v1"
REF = "#/components/schemas/{model}"

ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
                "request_id": {"type": "string"},
            },
        }
    },
}

_OK: dict[str, Any] = {
    "type": "object",
    "required": ["ok"],
    "properties": {"ok": {"const": True}, "migration": {"type": "string"}},
}
_PROJECT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "slug", "organization"],
    "properties": {k: {"type": "string"} for k in ("name", "slug", "organization")},
}

# (method, path) -> (request body model, answer model); paths as FastAPI writes them.
_BODIES: dict[tuple[str, str], tuple[type[BaseModel] | None, type[BaseModel] | dict[str, Any]]] = {}
for _kind, _model, _status in (
    ("function_calls", models.FunctionCall, models.FunctionCallStatus),
    ("human_contacts", models.HumanContact, models.HumanContactStatus),
):
    _BODIES[("post", f"{API}/{_kind}")] = (_model, _model)
    _BODIES[("get", f"{API}/{_kind}/{{call_id}}")] = (None, _model)
    _BODIES[("post", f"{API}/agent/{_kind}/{{call_id}}/respond")] = (_status, _model)
    _BODIES[("post", f"{API}/agent/{_kind}/{{call_id}}/escalate_email")] = (models.Escalation, _model)
    _BODIES[("get", f"{API}/agent/{_kind}/pending")] = (None, models.Page)
_BODIES[("post", f"{API}/agent/function_calls/respond")] = (
    models.BulkDecisionRequest,
    models.BulkDecisionResponse,
)
_BODIES[("post", f"{API}/contact_requests")] = (models.HumanContact, models.HumanContact)
_BODIES[("get", f"{API}/contact_requests/{{call_id}}")] = (None, models.HumanContact)
_BODIES[("get", f"{API}/project")] = (None, _PROJECT)
_BODIES[("get", "/healthz")] = (None, _OK)
_BODIES[("get", "/readyz")] = (None, _OK)
# The public keys of decision receipts (RFC 7517 JWK Set of Ed25519 keys, RFC 8037).
_BODIES[("get", "/.well-known/foureyes/jwks.json")] = (
    None,
    {
        "type": "object",
        "required": ["keys"],
        "properties": {
            "keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kty", "crv", "x", "kid"],
                    "properties": {k: {"type": "string"} for k in ("kty", "crv", "x", "kid", "alg", "use")},
                },
            }
        },
    },
)


def _schema_of(target: type[BaseModel] | dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    if isinstance(target, dict):
        return target
    found = target.model_json_schema(ref_template=REF, mode="serialization")
    components.update(found.pop("$defs", {}))
    components[target.__name__] = found
    return {"$ref": REF.format(model=target.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def build(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title="foureyes",
        version=app.version,
        openapi_version="3.1.0",
        description="HumanLayer's API (under /humanlayer/v1) as foureyes serves it, and its probes.",
        routes=app.routes,
    )
    # The inbox answers HTML pages and forms to browsers: not part of the API.
    spec["paths"] = {p: ops for p, ops in spec["paths"].items() if not p.startswith("/inbox")}
    components: dict[str, Any] = {"ErrorEnvelope": ERROR_ENVELOPE}
    error = _json({"$ref": REF.format(model="ErrorEnvelope")}) | {"description": "An error"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            request_model, answer = _BODIES.get((method, path), (None, {"type": "object"}))
            if request_model is not None:
                operation["requestBody"] = _json(_schema_of(request_model, components)) | {"required": True}
            ok = _json(_schema_of(answer, components))
            if path == "/metrics":
                ok = {"content": {"text/plain": {"schema": {"type": "string"}}}}
            operation["responses"] = {"200": ok | {"description": "OK"}, "default": error}
            if path.startswith(API):
                operation["security"] = [{"bearer": []}]
    spec["components"] = {
        "schemas": components,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}},
    }
    return spec


def install(app: FastAPI) -> None:
    built: dict[str, Any] = {}

    async def openapi() -> JSONResponse:
        if not built:
            built.update(build(app))
        return JSONResponse(built)

    app.add_api_route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)
