"""A request that names no channel goes to its project's default channels; one that names a
channel the server cannot reach is flagged (failed delivery, delivery_failed event), never
dropped."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from foureyes.server.domain.deadlines import duration_text, parse_duration
from foureyes.server.domain.errors import InvalidInputError
from foureyes.storage import events as event_log

from .conftest import World

pytestmark = pytest.mark.anyio

BOSS = {"email": {"address": "boss@example.com"}}


async def test_a_request_naming_no_channel_goes_to_the_project_defaults(world: World) -> None:
    world.service.projects.set_default_channels(
        "default", [{"email": {"address": "a@example.com"}}, {"email": {"address": "b@example.com"}}]
    )
    world.call("routed")
    world.call("named", channel=BOSS)

    sent = {(d.call_id, d.target) for d in world.emails()}
    assert sent == {("routed", "a@example.com"), ("routed", "b@example.com"), ("named", "boss@example.com")}
    [created] = world.events("routed", "created")
    assert created["routed_to"] == [
        {"email": {"address": "a@example.com"}},
        {"email": {"address": "b@example.com"}},
    ]
    # the request itself is unchanged: the API still shows what the agent sent
    item = world.service.items.get_function_call(world.project_id, "routed")
    assert "channel" not in item.spec
    assert "routed_to" not in world.events("named", "created")[0]


async def test_without_smtp_the_failure_is_recorded_at_create_and_flagged(world: World) -> None:
    world.call("no-smtp", channel=BOSS)
    # recorded in the create's own transaction: no worker has run
    [delivery] = world.emails()
    assert delivery.status == "failed"
    assert delivery.attempts == 1
    assert "email is not configured" in (delivery.last_error or "")
    assert world.event_types("no-smtp") == ["created", "delivery_failed"]
    [failed] = world.events("no-smtp", "delivery_failed")
    assert failed["sink"] == "email"
    assert failed["target"] == "boss@example.com"
    assert failed["delivery_id"] == delivery.id
    assert world.service.deliveries.attempts(delivery.id)[0].error == delivery.last_error


async def test_clearing_the_defaults_leaves_new_requests_in_the_inbox_only(world: World) -> None:
    world.service.projects.set_default_channels("default", [BOSS])
    world.service.projects.set_default_channels("default", [])
    world.call("inbox-only")
    assert world.emails() == []
    assert world.event_types("inbox-only") == ["created"]


@pytest.mark.parametrize(
    "channels",
    [
        [{"email": {"address": "not an address"}}],
        [{"email": {"address": "a@b.c, d@e.f"}}],
        [{}],
        [{"email": {"no_address": 1}}],
    ],
)
async def test_bad_default_channels_are_refused(world: World, channels: list[dict[str, object]]) -> None:
    with pytest.raises(InvalidInputError):
        world.service.projects.set_default_channels("default", channels)
    assert world.service.projects.get("default").default_channels == ()


async def test_the_default_channels_keep_room_for_slack(world: World) -> None:
    slack = {"slack": {"channel_or_user_id": "C123"}}
    project = world.service.projects.set_default_channels("default", [slack, BOSS])
    assert project.default_channels == (slack, BOSS)
    world.call("mixed")
    assert [d.target for d in world.emails()] == ["boss@example.com"]


async def test_the_project_default_deadline(world: World) -> None:
    world.service.projects.set_deadline("default", parse_duration("2h"))
    world.call("with-deadline")
    item = world.service.items.get_function_call(world.project_id, "with-deadline")
    assert item.expires_at == world.clock.now + timedelta(hours=2)
    world.service.projects.set_deadline("default", None)
    world.call("without")
    assert world.service.items.get_function_call(world.project_id, "without").expires_at is None
    with pytest.raises(InvalidInputError):
        world.service.projects.set_deadline("default", 0)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90", "90s", "30m", "2h", "7d", "1h30m")] == [
        90,
        90,
        1800,
        7200,
        604800,
        5400,
    ]
    assert duration_text(5400) == "1h30m"
    for bad in ("", "2x", "h", "1.5h", "-3m"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


async def test_settings_changes_are_in_the_change_log(world: World) -> None:
    world.service.projects.set_default_channels("default", [BOSS])
    world.service.projects.set_email_deciders_members_only("default", True)
    with world.service.db.read() as conn:
        found = [(e.type, e.data) for e in event_log.for_project(conn, world.project_id)]
    assert ("default_channels_set", {"channels": [BOSS]}) in found
    assert ("email_deciders_set", {"members_only": True}) in found
    assert json.dumps(found)  # plain JSON
