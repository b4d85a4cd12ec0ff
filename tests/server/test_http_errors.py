"""The one mapping from domain errors to HTTP answers: status, code, JSON or a page by prefix."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response
from starlette.testclient import TestClient

import foureyes.server.domain.errors as domain_errors
from foureyes.server.domain.errors import (
    ConflictError,
    DomainError,
    InvitationError,
    LockedOutError,
    NotFoundError,
    UnauthorizedError,
    ValidationFailedError,
    field_error,
)
from foureyes.server.http.errors import install_error_handlers, status_and_code


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFoundError("x"), 404, "not_found"),
        (ConflictError("x"), 409, "conflict"),
        (ValidationFailedError("x"), 422, "validation_error"),
        (InvitationError("x"), 422, "validation_error"),  # by its parent, InvalidInputError
        (UnauthorizedError("x"), 401, "unauthorized"),
        (LockedOutError(3.2), 429, "too_many_requests"),
        (DomainError("x"), 500, "internal_error"),
    ],
)
def test_status_and_code(error: DomainError, status: int, code: str) -> None:
    assert status_and_code(error) == (status, code)


def test_the_domain_errors_know_nothing_of_http() -> None:
    tree = ast.parse(Path(domain_errors.__file__).read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {name for name in imported if name.split(".")[0] in {"fastapi", "starlette"}}
    assert not any(
        hasattr(cls, "status_code") for cls in vars(domain_errors).values() if isinstance(cls, type)
    )


def test_invalid_input_is_a_value_error() -> None:
    assert isinstance(ValidationFailedError("x"), ValueError)
    assert isinstance(InvitationError("x"), ValueError)
    assert not isinstance(NotFoundError("x"), ValueError)


def _app() -> FastAPI:
    app = FastAPI()

    async def page(_request: Request, status_code: int, exc: DomainError) -> Response:
        return HTMLResponse(f"<p>{exc.message}</p>", status_code=status_code)

    install_error_handlers(app, pages={"/pages": page})

    async def locked() -> None:
        raise LockedOutError(2.5)

    async def invalid() -> None:
        raise ValidationFailedError("bad", [field_error(["body", "x"], "wrong")])

    for prefix in ("/api", "/pages"):
        app.add_api_route(f"{prefix}/locked", locked, methods=["GET"])
        app.add_api_route(f"{prefix}/invalid", invalid, methods=["GET"])
    return app


def test_json_everywhere_but_under_a_page_prefix() -> None:
    with TestClient(_app()) as client:
        api = client.get("/api/invalid")
        assert api.status_code == 422
        assert api.json() == {
            "error": {
                "code": "validation_error",
                "message": "bad",
                "details": [{"loc": ["body", "x"], "message": "wrong", "type": "value_error"}],
            }
        }
        page = client.get("/pages/invalid")
        assert page.status_code == 422
        assert page.headers["content-type"].startswith("text/html")
        assert page.text == "<p>bad</p>"
        # The router's own 404 follows the same rule; a prefix is a whole path segment.
        assert client.get("/pages/nowhere").headers["content-type"].startswith("text/html")
        assert client.get("/pagesx").json()["error"]["code"] == "not_found"


def test_locked_out_says_when_to_come_back() -> None:
    with TestClient(_app()) as client:
        response = client.get("/api/locked")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "too_many_requests"
