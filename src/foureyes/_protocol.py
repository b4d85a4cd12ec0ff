"""The vocabulary that the SDK, the server and the CLI share beyond the HumanLayer models:
item kinds and states, the WebSocket frames, and the limits of the wire.

- ``ItemKind``: what an item is, as the WebSocket and the events name it.
- ``ItemState``: where an item stands. ``pending`` until the one decision that completes it; a
  decision's verdict is one of the others, and it becomes the item's state. ``expired`` is the
  server's own verdict when an item's deadline (``expires_at``) passed with nobody deciding.
- The frames of ``/humanlayer/v1/ws`` (docs/protocol.md), both ways, as pydantic models: the
  server parses what clients send with ``CLIENT_FRAMES`` (``server/api/ws_frames.py`` adds the
  input policy and the error codes) and builds what it sends from the server frames; the SDK's
  push channel (``_push.py``) builds client frames and reads server frames with
  ``parse_server_frame``.

Imports pydantic and nothing else of ours or the server's, so every side may import it.
(The SDK's ``_core.ItemApi`` is something else: the routes and model of one kind.)
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError


class ItemKind(StrEnum):
    FUNCTION_CALL = "function_call"
    HUMAN_CONTACT = "human_contact"

    @property
    def noun(self) -> str:
        """``function call`` / ``human contact``, for messages."""
        return self.value.replace("_", " ")


class ItemState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ANSWERED = "answered"
    EXPIRED = "expired"


# ---------------------------------------------------------------- limits of the wire

MAX_ID_LENGTH = 256
"""The longest ``call_id`` or ``run_id`` the server accepts."""
MAX_IDS_PER_FRAME = 20_000
"""The most ids one subscribe or unsubscribe frame may name (announced as ``ids_per_frame``)."""
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10_000
"""The server's default for how many items one connection may watch; a server announces its own."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
FrameId = str | int | None


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# ---------------------------------------------------------------- client -> server


class Auth(_Frame):
    type: Literal["auth"] = "auth"
    api_key: str


class Subscribe(_Frame):
    type: Literal["subscribe"] = "subscribe"
    id: FrameId = None  # echoed in the "subscribed" answer
    function_calls: list[Id] = Field(default_factory=list, max_length=MAX_IDS_PER_FRAME)
    human_contacts: list[Id] = Field(default_factory=list, max_length=MAX_IDS_PER_FRAME)
    runs: list[Id] = Field(default_factory=list, max_length=MAX_IDS_PER_FRAME)


class Unsubscribe(Subscribe):
    type: Literal["unsubscribe"] = "unsubscribe"  # type: ignore[assignment]


class Ping(_Frame):
    type: Literal["ping"] = "ping"


class Pong(_Frame):
    type: Literal["pong"] = "pong"


ClientFrame = Auth | Subscribe | Unsubscribe | Ping | Pong
CLIENT_FRAMES: TypeAdapter[ClientFrame] = TypeAdapter(Annotated[ClientFrame, Field(discriminator="type")])
CLIENT_FRAME_TYPES = ("auth", "subscribe", "unsubscribe", "ping", "pong")


# ---------------------------------------------------------------- server -> client


class Ready(_Frame):
    type: Literal["ready"] = "ready"
    heartbeat_seconds: float | None = None
    # Read leniently (see _push._limit): a limit a client does not understand is not fatal.
    limits: dict[str, Any] = Field(default_factory=dict)


class ItemFrame(_Frame):
    """An item's current state, rendered exactly as the REST API renders it. ``kind`` stays a
    plain string so that a client ignores a kind it does not know instead of failing."""

    type: Literal["item"] = "item"
    kind: str
    item: dict[str, Any]


class Subscribed(_Frame):
    type: Literal["subscribed"] = "subscribed"
    id: FrameId = None


class ErrorFrame(_Frame):
    """``code`` and ``message``; what else the error concerns (``id``, ``kind`` and ``call_id``,
    a limit) travels as extra fields."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["error"] = "error"
    code: str
    message: str = ""


ServerFrame = Ready | ItemFrame | Subscribed | ErrorFrame | Ping | Pong
_SERVER_FRAMES: TypeAdapter[ServerFrame] = TypeAdapter(Annotated[ServerFrame, Field(discriminator="type")])


def frame_text(frame: _Frame) -> str:
    """A frame as the compact JSON text sent on the socket."""
    return json.dumps(frame.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


def parse_server_frame(text: str | bytes) -> ServerFrame | None:
    """A frame the server sent; None for one this client cannot read (ignored, never fatal)."""
    try:
        return _SERVER_FRAMES.validate_json(text)
    except ValidationError:
        return None
