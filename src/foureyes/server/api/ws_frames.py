"""The frames a WebSocket client may send, parsed and checked; see docs/protocol.md.

Every frame is a JSON object with a ``type``. A frame that is not JSON, has an unknown type or
bad fields raises ``FrameError``, which the session answers with an error frame: a bad frame
never ends the connection.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from foureyes.server.service import MAX_ID_LENGTH

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
# A frame may name this many ids in all; a connection may hold MAX_SUBSCRIPTIONS.
MAX_IDS_PER_FRAME = 20_000


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Auth(_Frame):
    type: Literal["auth"]
    api_key: str


class Subscribe(_Frame):
    type: Literal["subscribe"]
    id: str | int | None = None  # echoed in the "subscribed" answer
    function_calls: list[Id] = Field(default_factory=list, max_length=MAX_IDS_PER_FRAME)
    human_contacts: list[Id] = Field(default_factory=list, max_length=MAX_IDS_PER_FRAME)
    runs: list[Id] = Field(default_factory=list, max_length=MAX_IDS_PER_FRAME)


class Unsubscribe(Subscribe):
    type: Literal["unsubscribe"]  # type: ignore[assignment]


class Ping(_Frame):
    type: Literal["ping"]


class Pong(_Frame):
    type: Literal["pong"]


ClientFrame = Annotated[Auth | Subscribe | Unsubscribe | Ping | Pong, Field(discriminator="type")]
_ADAPTER: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
TYPES = ("auth", "subscribe", "unsubscribe", "ping", "pong")


class FrameError(Exception):
    def __init__(self, code: str, message: str, frame_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def parse_frame(text: str) -> Auth | Subscribe | Unsubscribe | Ping | Pong:
    try:
        raw: Any = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError("invalid_json", "the frame is not valid JSON") from None
    if not isinstance(raw, dict):
        raise FrameError("invalid_frame", "a frame must be a JSON object with a 'type'")
    frame_id = raw.get("id") if isinstance(raw.get("id"), str | int) else None
    kind = raw.get("type")
    if kind not in TYPES:
        raise FrameError("unknown_type", f"unknown frame type {kind!r}; known: {', '.join(TYPES)}", frame_id)
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise FrameError("invalid_frame", f"{where}: {first['msg']}", frame_id) from None
