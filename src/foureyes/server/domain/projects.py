"""``Projects``: a project's routing and deadline settings.

- **Default channels**: a list of ContactChannel objects (``{"email": {"address": ...}}``,
  ``{"slack": {"channel_or_user_id": ...}}``: at most one Slack channel) that a request naming no
  channel is sent to (and that a policy's ``route:`` may name: routes.py).
- **Default deadline**: ``expires_after_seconds`` of a request that names no ``expires_at``.
- **Escalation chain**: steps "after T without a decision, also notify these channels"
  (``domain/chains.py`` checks them and fires them).
- **Email deciders**: when restricted to members, only foureyes people with a deciding role in
  the project may decide through an email link.
- **Slack bot token**: the project's own, sealed in the database; it posts the project's
  Slack messages unless a request brings its own ``bot_token``. A project's channels may not
  carry a new ``bot_token`` themselves (one set before shows as ``[redacted]`` and is kept).

Each change is a ``SettingsChanged`` event in the project's change log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from foureyes.models import ContactChannel
from foureyes.server.domain.chains import check_step, with_step
from foureyes.server.domain.deadlines import MAX_DEFAULT_SECONDS
from foureyes.server.domain.errors import InvalidInputError, NotFoundError
from foureyes.server.domain.events import Emitter, SettingsChanged
from foureyes.storage import Database, ProjectRecord, credentials
from foureyes.storage import keys as project_rows
from foureyes.storage import slack as slack_rows

MAX_CHANNELS = 20
# One address: something@domain, no spaces or list separators (the rest is the SMTP server's).
ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def email_channels(addresses: Sequence[str]) -> list[dict[str, Any]]:
    """One email ContactChannel per address."""
    return [{"email": {"address": address.strip()}} for address in addresses if address.strip()]


def check_channels(channels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The channels as stored (ContactChannel fields only), or InvalidInputError saying why."""
    if len(channels) > MAX_CHANNELS:
        raise InvalidInputError(f"at most {MAX_CHANNELS} default channels")
    checked: list[dict[str, Any]] = []
    for given in channels:
        try:
            channel = ContactChannel.model_validate(given)
        except ValidationError as exc:
            raise InvalidInputError(f"not a contact channel: {exc.errors()[0]['msg']}") from None
        shaped = channel.model_dump(exclude_none=True)
        if not shaped:
            raise InvalidInputError("a default channel must name email, slack, sms or whatsapp")
        given_token = (shaped.get("slack") or {}).get("bot_token")
        if given_token and given_token != credentials.REDACTED:
            raise InvalidInputError(
                "a project's Slack channel cannot carry a bot_token: set the project's token with "
                "`foureyes projects slack-token`"
            )
        address = (shaped.get("email") or {}).get("address")
        if address is not None and (len(address) > 320 or not ADDRESS.match(address)):
            raise InvalidInputError(f"{address!r} is not an email address")
        checked.append(shaped)
    if sum("slack" in channel for channel in checked) > 1:
        raise InvalidInputError("a request has one Slack message: at most one default Slack channel")
    return checked


class Projects:
    def __init__(self, db: Database, emitter: Emitter, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._emitter = emitter
        self._clock = clock

    def get(self, slug: str) -> ProjectRecord:
        with self._db.read() as conn:
            project = project_rows.find_project(conn, slug)
        if project is None:
            raise NotFoundError(f"project {slug!r} not found")
        return project

    def list_projects(self) -> list[ProjectRecord]:
        with self._db.read() as conn:
            return project_rows.list_projects(conn)

    def _change(
        self,
        slug: str,
        what: str,
        details: Mapping[str, Any],
        store: Callable[[Any, int], object],
        actor_user_id: int | None,
    ) -> ProjectRecord:
        now = self._clock()
        with self._db.write() as tx:
            project = project_rows.ensure_project(tx.conn, slug, now=now)
            store(tx.conn, project.id)
            self._emitter.emit(
                tx,
                SettingsChanged(
                    project_id=project.id,
                    at=now,
                    actor_user_id=actor_user_id,
                    channel="admin" if actor_user_id is None else "inbox",
                    what=what,
                    details=details,
                ),
            )
            found = project_rows.get_project(tx.conn, project.id)
        assert found is not None
        return found

    def set_default_channels(
        self, slug: str, channels: Sequence[Mapping[str, Any]], *, actor_user_id: int | None = None
    ) -> ProjectRecord:
        """Set the project's default channels (an empty list clears them); created if new."""
        # a channel's credentials (a Slack bot_token) are sealed apart, "[redacted]" in their place
        checked, secrets = credentials.split(check_channels(channels))

        def store(conn: Any, project_id: int) -> None:
            before = project_rows.get_project(conn, project_id)
            kept = credentials.opened(
                conn, self._db.box, None, credentials.DEFAULT_CHANNELS, project_id=project_id
            )
            again = credentials.carried(() if before is None else before.default_channels, kept, checked)
            project_rows.set_project_channels(conn, project_id, checked)
            self._seal(conn, again + secrets, credentials.DEFAULT_CHANNELS, project_id, replace=True)

        return self._change(
            slug,
            "default_channels_set" if checked else "default_channels_cleared",
            {"channels": checked},
            store,
            actor_user_id,
        )

    def _seal(
        self, conn: Any, secrets: credentials.Secrets, part: str, project_id: int, *, replace: bool
    ) -> None:
        credentials.seal(
            conn, self._db.box, secrets, part=part, now=self._clock(), project_id=project_id, replace=replace
        )

    def set_deadline(
        self, slug: str, seconds: int | None, *, actor_user_id: int | None = None
    ) -> ProjectRecord:
        """Set (None: clear) the deadline of the project's requests that name none."""
        if seconds is not None and not 1 <= seconds <= MAX_DEFAULT_SECONDS:
            raise InvalidInputError(
                f"a default deadline must be between 1 second and {MAX_DEFAULT_SECONDS} seconds"
            )
        return self._change(
            slug,
            "default_deadline_set" if seconds is not None else "default_deadline_cleared",
            {"expires_after_seconds": seconds},
            lambda conn, pid: project_rows.set_project_expiry(conn, pid, seconds),
            actor_user_id,
        )

    def add_escalation_step(
        self,
        slug: str,
        after_seconds: int,
        channels: Sequence[Mapping[str, Any]],
        *,
        actor_user_id: int | None = None,
    ) -> ProjectRecord:
        """Add a step to the project's escalation chain (kept in order of delay)."""
        step, secrets = credentials.split(check_step(after_seconds, check_channels(channels)))
        with self._db.read() as conn:
            found = project_rows.find_project(conn, slug)
        steps = with_step(() if found is None else found.escalation_steps, step)

        def store(conn: Any, project_id: int) -> None:
            project_rows.set_project_escalation_steps(conn, project_id, steps)
            self._seal(conn, secrets, credentials.ESCALATION_STEPS, project_id, replace=False)

        return self._change(slug, "escalation_step_added", step, store, actor_user_id)

    def clear_escalation_steps(self, slug: str, *, actor_user_id: int | None = None) -> ProjectRecord:
        def store(conn: Any, project_id: int) -> None:
            project_rows.set_project_escalation_steps(conn, project_id, [])
            self._seal(conn, [], credentials.ESCALATION_STEPS, project_id, replace=True)

        return self._change(slug, "escalation_steps_cleared", {}, store, actor_user_id)

    def set_email_deciders_members_only(
        self, slug: str, members_only: bool, *, actor_user_id: int | None = None
    ) -> ProjectRecord:
        return self._change(
            slug,
            "email_deciders_set",
            {"members_only": members_only},
            lambda conn, pid: project_rows.set_project_email_deciders(conn, pid, members_only),
            actor_user_id,
        )

    def set_step_up(self, slug: str, step_up: bool, *, actor_user_id: int | None = None) -> ProjectRecord:
        """Whether the project's new requests need step-up (a passkey assertion per decision)."""
        return self._change(
            slug,
            "step_up_set",
            {"step_up": step_up},
            lambda conn, pid: project_rows.set_project_step_up(conn, pid, step_up),
            actor_user_id,
        )

    def set_slack_token(
        self, slug: str, token: str | None, *, actor_user_id: int | None = None
    ) -> ProjectRecord:
        """Keep (None: forget) the project's own Slack bot token, sealed; the change log says
        that it changed, never the token."""
        if token is not None and (
            not token.startswith("xox") or len(token) > 255 or any(c.isspace() for c in token)
        ):
            raise InvalidInputError("a Slack bot token looks like xoxb-..., without spaces")
        return self._change(
            slug,
            "slack_token_set" if token is not None else "slack_token_cleared",
            {},
            lambda conn, pid: slack_rows.set_project_token(conn, self._db.box, pid, token),
            actor_user_id,
        )

    def with_slack_token(self) -> frozenset[int]:
        """The ids of the projects with a Slack bot token of their own."""
        with self._db.read() as conn:
            return slack_rows.projects_with_token(conn)
