"""Who may decide a request from Slack.

A request whose Slack channel lists ``allowed_responder_ids`` is decided only by those Slack
users, and the decision is attributed to the Slack user id (``slack:U…``). Without a list, the
Slack user must be a person of this server with a deciding role (admin or reviewer) in the
request's project, and the decision is theirs, checked again by ``Decisions``. The person is
the one the Slack user linked themselves to with a one-time code (``linking.py``), else the
one with the email address Slack has verified for them (``users.info``,
``is_email_confirmed``). A link to a person without a deciding role in this project does not
stop the email from being tried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from foureyes.server.channels.slack.api import channel_slack
from foureyes.server.channels.slack.linking import SlackLinks
from foureyes.server.domain.errors import NotFoundError
from foureyes.server.people import DECIDING_ROLES, People
from foureyes.storage import ItemRecord

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient


@dataclass(frozen=True)
class Decider:
    actor_user_id: int | None = None
    actor_email: str | None = None


def _verified_email(answer: Mapping[str, Any]) -> str | None:
    user = answer.get("user") or {}
    email = (user.get("profile") or {}).get("email")
    if user.get("deleted") or user.get("is_bot") or not user.get("is_email_confirmed") or not email:
        return None
    return str(email)


def linked_person(people: People, email: str, project_id: int) -> int | None:
    """The id of the person with this address who may decide in the project (a blocking call)."""
    try:
        person = people.find_user(email)
    except NotFoundError:
        return None
    return person.id if people.role_in(person.id, project_id) in DECIDING_ROLES else None


def _linked_decider(links: SlackLinks, people: People, slack_user: str, project_id: int) -> int | None:
    person = links.linked_person(slack_user)
    if person is None or people.role_in(person, project_id) not in DECIDING_ROLES:
        return None
    return person


async def decider_for(
    item: ItemRecord, slack_user: str, client: AsyncWebClient, people: People, links: SlackLinks
) -> Decider | None:
    """Who decides when ``slack_user`` clicks, or None: they may not decide this request."""
    slack = channel_slack(item.spec) or {}
    allowed = slack.get("allowed_responder_ids")
    if allowed:
        return Decider(actor_email=f"slack:{slack_user}") if slack_user in allowed else None
    linked = await asyncio.to_thread(_linked_decider, links, people, slack_user, item.project_id)
    if linked is not None:
        return Decider(actor_user_id=linked)
    answer = await client.users_info(user=slack_user)
    email = _verified_email(answer.data if isinstance(answer.data, dict) else {})
    if email is None:
        return None
    person = await asyncio.to_thread(linked_person, people, email, item.project_id)
    return None if person is None else Decider(actor_user_id=person)
