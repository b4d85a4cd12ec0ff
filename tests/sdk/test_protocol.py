"""The shared vocabulary: kinds, states and WebSocket frames as both sides read and write them."""

from __future__ import annotations

import json

import pytest

from foureyes._protocol import (
    CLIENT_FRAMES,
    MAX_IDS_PER_FRAME,
    ErrorFrame,
    ItemFrame,
    ItemKind,
    ItemState,
    Pong,
    Ready,
    Subscribe,
    Unsubscribe,
    frame_text,
    parse_server_frame,
)


def test_kinds_and_states_are_the_wire_strings() -> None:
    assert [str(k) for k in ItemKind] == ["function_call", "human_contact"]
    assert [str(s) for s in ItemState] == ["pending", "approved", "rejected", "answered", "expired"]
    assert ItemKind.HUMAN_CONTACT.noun == "human contact"
    assert json.dumps({"kind": ItemKind.FUNCTION_CALL}) == '{"kind": "function_call"}'


def test_client_frames_survive_the_trip() -> None:
    frames = (Subscribe(id=7, function_calls=["a"], human_contacts=["b"]), Unsubscribe(runs=["r"]), Pong())
    for frame in frames:
        assert CLIENT_FRAMES.validate_json(frame_text(frame)) == frame


def test_a_subscribe_names_at_most_the_limit() -> None:
    Subscribe(function_calls=["x"] * MAX_IDS_PER_FRAME)
    with pytest.raises(ValueError, match="at most"):
        Subscribe(function_calls=["x"] * (MAX_IDS_PER_FRAME + 1))


def test_server_frames_are_read_leniently() -> None:
    ready = parse_server_frame('{"type":"ready","heartbeat_seconds":20,"limits":{"ids_per_frame":"?"}}')
    assert isinstance(ready, Ready)
    assert ready.limits == {"ids_per_frame": "?"}  # judged by the channel, not fatal here
    item = parse_server_frame(b'{"type":"item","kind":"future_kind","item":{"call_id":"c"}}')
    assert isinstance(item, ItemFrame)
    assert item.kind == "future_kind"
    error = parse_server_frame('{"type":"error","code":"not_found","kind":"function_call","call_id":"c"}')
    assert isinstance(error, ErrorFrame)
    assert error.model_extra == {"kind": "function_call", "call_id": "c"}
    for unreadable in ("{not json", "[1]", '{"type":"launch"}', '{"type":"item","kind":"x"}'):
        assert parse_server_frame(unreadable) is None
