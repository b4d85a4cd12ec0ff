"""The frames a WebSocket client may send, parsed and checked; see docs/protocol.md.

The frames themselves are modelled in ``foureyes._protocol``, which the SDK shares. Here a frame
is read under the server's input policy (``input_policy.load_json``: depth, NUL characters, lone
surrogates, finite numbers) and given an error code. A frame that is not JSON, breaks the policy,
has an unknown type or bad fields raises ``FrameError``, which the session answers with an
error frame: a bad frame never ends the connection.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from foureyes._protocol import CLIENT_FRAME_TYPES, CLIENT_FRAMES, ClientFrame
from foureyes.server.domain.errors import InvalidJsonError, ValidationFailedError
from foureyes.server.input_policy import load_json


class FrameError(Exception):
    def __init__(self, code: str, message: str, frame_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def parse_frame(text: str, max_depth: int) -> ClientFrame:
    try:
        raw: Any = load_json(text, max_depth, "frame")
    except InvalidJsonError:
        raise FrameError("invalid_json", "the frame is not valid JSON") from None
    except ValidationFailedError as exc:  # too deep, a NUL character, a lone surrogate
        raise FrameError("invalid_frame", exc.message) from None
    if not isinstance(raw, dict):
        raise FrameError("invalid_frame", "a frame must be a JSON object with a 'type'")
    frame_id = raw.get("id") if isinstance(raw.get("id"), str | int) else None
    kind = raw.get("type")
    if kind not in CLIENT_FRAME_TYPES:
        known = ", ".join(CLIENT_FRAME_TYPES)
        raise FrameError("unknown_type", f"unknown frame type {kind!r}; known: {known}", frame_id)
    try:
        return CLIENT_FRAMES.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise FrameError("invalid_frame", f"{where}: {first['msg']}", frame_id) from None
