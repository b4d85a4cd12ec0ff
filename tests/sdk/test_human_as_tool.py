"""human_as_tool: HumanLayer's naming rules, and the answer coming back."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

import pytest

from foureyes import (
    AsyncHumanLayer,
    ContactChannel,
    EmailContactChannel,
    HumanLayer,
    ResponseOption,
    SlackContactChannel,
    SMSContactChannel,
)

from .conftest import FakeServer


def answer_everything(server: FakeServer, text: str) -> None:
    def hook(call_id: str) -> None:
        server.answer(call_id, text)

    server.on_get = hook


def test_no_channel(hl: HumanLayer, server: FakeServer) -> None:
    tool = hl.human_as_tool(response_options=[ResponseOption(name="formal", prompt_fill="Be formal.")])
    assert tool.__name__ == "contact_human"
    assert tool.__doc__ == "contact a human"
    assert list(inspect.signature(tool).parameters) == ["message", "subject"]
    answer_everything(server, "formal")
    assert tool("Which tone?", subject="tone") == "formal"
    spec = json.loads(server.sent("POST")[0].content)["spec"]
    assert (spec["msg"], spec["subject"], spec["response_options"][0]["name"]) == (
        "Which tone?",
        "tone",
        "formal",
    )


def test_slack_channel(hl: HumanLayer) -> None:
    plain = hl.human_as_tool(ContactChannel(slack=SlackContactChannel(channel_or_user_id="C1")))
    assert plain.__name__ == "contact_human_in_slack"
    assert plain.__doc__ == "Contact a human via slack and wait for a response"
    assert list(inspect.signature(plain).parameters) == ["message"]
    with_context = hl.human_as_tool(
        ContactChannel(
            slack=SlackContactChannel(channel_or_user_id="C1", context_about_channel_or_user="the dev team")
        )
    )
    assert with_context.__name__ == "contact_human_in_slack_in_the_dev_team"
    assert with_context.__doc__ == "Contact a human via slack and wait for a response in the dev team"
    assert with_context.__annotations__ == {"message": str, "return": str}


def test_email_channel_keeps_subject_and_its_own_subject_wins(hl: HumanLayer, server: FakeServer) -> None:
    channel = ContactChannel(
        email=EmailContactChannel(address="ceo+urgent@example.com", experimental_subject_line="Re: Q3")
    )
    tool = hl.human_as_tool(channel)
    assert tool.__name__ == "contact_human_via_email_ceo_urgent_example_com"
    assert tool.__doc__ == "Contact a human via email and wait for a response"
    assert list(inspect.signature(tool).parameters) == ["message", "subject"]
    answer_everything(server, "approved")
    assert tool("Budget?", subject="model subject") == "approved"
    spec = json.loads(server.sent("POST")[0].content)["spec"]
    assert spec["subject"] == "Re: Q3"
    assert spec["channel"]["email"]["address"] == "ceo+urgent@example.com"


def test_other_channels_drop_subject(hl: HumanLayer) -> None:
    tool = hl.human_as_tool(ContactChannel(sms=SMSContactChannel(phone_number="+1555")))
    assert tool.__name__ == "contact_human"
    assert list(inspect.signature(tool).parameters) == ["message"]


def test_instance_channel_names_the_tool(make_hl: Callable[..., HumanLayer]) -> None:
    hl = make_hl(contact_channel=ContactChannel(slack=SlackContactChannel(channel_or_user_id="C9")))
    assert hl.human_as_tool().__name__ == "contact_human_in_slack"


@pytest.mark.anyio
async def test_async_tool(make_ahl: Callable[..., AsyncHumanLayer], server: FakeServer) -> None:
    ahl = make_ahl()
    tool = ahl.human_as_tool(
        ContactChannel(
            slack=SlackContactChannel(channel_or_user_id="C1", context_about_channel_or_user="ops")
        )
    )
    assert inspect.iscoroutinefunction(tool)
    assert tool.__name__ == "contact_human_in_slack_in_ops"
    answer_everything(server, "eu-west")
    assert await tool("Which region?") == "eu-west"
