"""The input policy: what any client may send, checked before anything is parsed into the domain
or stored.

- JSON bodies: at most ``max_body_bytes`` (``body_limit``), nested at most ``max_json_depth``
  levels, numbers finite (``1e400`` would come back as ``Infinity``, which is not JSON).
- Every string, in a JSON body, a form field, the path or the query string: valid Unicode (no lone
  surrogate such as ``"\\ud800"``, which cannot be encoded to UTF-8) and no NUL character, which
  PostgreSQL cannot store in text.

A body that breaks a rule is refused with 422 ``validation_error`` whose ``details`` point at the
offending value; a path, query or form value with 400 ``invalid_parameter``. WebSocket frames are
read with ``load_json`` too (``api/ws_frames``). See docs/protocol.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from foureyes.server.domain.errors import (
    InvalidJsonError,
    InvalidParameterError,
    ValidationFailedError,
    field_error,
)
from foureyes.server.settings import Settings

Loc = tuple[str | int, ...]

_DEPTH_SETTING = "max_json_depth (FOUREYES_MAX_JSON_DEPTH)"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be accepted, or None when it can."""
    if "\x00" in text:
        return "must not contain the NUL character (U+0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (it holds a lone surrogate, such as \\ud800)"
    return None


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would fail later, when echoing them back.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large to be represented")
    return value


def load_json(raw: bytes | str, max_depth: int, what: str = "body") -> Any:
    """Parse JSON text and check it against the policy; 400 when it is not JSON, 422 when it
    breaks a rule. ``what`` is named in the errors' locations (a request ``body``, a ``frame``)."""
    try:
        value = json.loads(raw, parse_constant=_no_constants, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep((what,), max_depth) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidJsonError(f"the request {what} is not valid JSON: {exc}") from None
    check_value(value, max_depth, (what,))
    return value


def check_value(value: Any, max_depth: int, loc: Loc = ("body",)) -> None:
    """Depth and strings of a parsed JSON value; the outermost object or array is level 1.
    Walks with an explicit stack, so no value can exhaust Python's recursion limit here."""
    stack: list[tuple[Any, Loc, int]] = [(value, loc, 1)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            _check_string(node, where)
            continue
        if isinstance(node, dict):
            children: Sequence[tuple[str | int, Any]] = list(node.items())
            for key, _child in children:
                _check_string(str(key), (*where, _printable(str(key))[:64]))
        elif isinstance(node, list):
            children = list(enumerate(node))
        else:
            continue
        if depth > max_depth:
            raise _too_deep(where, max_depth)
        stack.extend((child, (*where, key), depth + 1) for key, child in children)


def _printable(text: str) -> str:
    # For the error's location: a refused key is named without the character that was refused.
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _check_string(text: str, where: Loc) -> None:
    problem = text_problem(text)
    if problem is not None:
        place = ".".join(str(part) for part in where)
        raise ValidationFailedError(
            f"the request is not valid: {place} {problem}",
            [field_error(where, problem, "string_not_allowed")],
        )


def _too_deep(where: Loc, max_depth: int) -> ValidationFailedError:
    message = f"JSON nested deeper than {max_depth} levels; the limit is the setting {_DEPTH_SETTING}"
    return ValidationFailedError(message, [field_error(where[:8], message, "json_too_deep")])


def max_depth_of(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.max_json_depth


async def check_request_text(request: Request) -> None:
    """A route dependency: the path, every query parameter and every form field must be text
    the policy accepts (400 naming the parameter otherwise)."""
    problem = text_problem(request.scope["path"])
    if problem is not None:
        raise InvalidParameterError(f"the path {problem}")
    for name, value in request.query_params.multi_items():
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            raise InvalidParameterError(f"query parameter {name!r} {problem}")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method == "POST" and content_type in _FORM_TYPES:
        # FastAPI has already read the form for the route's Form() parameters; this is that copy.
        form = await request.form()
        for name, field in form.multi_items():
            if isinstance(field, str):
                problem = text_problem(name) or text_problem(field)
                if problem is not None:
                    raise InvalidParameterError(f"form field {name!r} {problem}")
