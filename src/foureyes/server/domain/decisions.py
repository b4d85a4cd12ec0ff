"""``Decisions``: the one path by which every channel approves, rejects or answers.

A decision checks the item is still pending and the answer complete, then in one unit of work
completes the item (a conditional UPDATE: of racing deciders exactly one wins) and emits
``ItemDecided``; waiters are woken and webhooks queued by that one event.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from foureyes._protocol import ItemState
from foureyes.server.domain.deadlines import expiry_comment
from foureyes.server.domain.edits import checked_edit
from foureyes.server.domain.errors import (
    ConflictError,
    StepUpRequiredError,
    ValidationFailedError,
    field_error,
)
from foureyes.server.domain.events import Emitter
from foureyes.server.domain.items import FUNCTION_CALL, HUMAN_CONTACT, Items, describe
from foureyes.server.domain.passkeys import step_up_message
from foureyes.server.domain.quorum import check_not_creator, decided_event, record_approval
from foureyes.server.domain.receipts import Receipts
from foureyes.server.people import People
from foureyes.storage import Database, ItemRecord, NewDecision, Tx
from foureyes.storage import items as item_rows
from foureyes.storage.people import UserRecord

logger = logging.getLogger(__name__)

# The channel of the server's own verdict when a deadline passes.
EXPIRY_CHANNEL = "deadline"


def _blank_to_none(text: str | None) -> str | None:
    return None if text is None or not text.strip() else text


def _option_text(option: Mapping[str, Any]) -> str:
    """What an option stands for when the human picked it without typing anything."""
    for key in ("prompt_fill", "title", "name"):
        value = option.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return str(option["name"])


def _find_option(item: ItemRecord, field: str, name: str, body_field: str) -> Mapping[str, Any]:
    options: list[Mapping[str, Any]] = item.spec.get(field) or []
    for option in options:
        if option["name"] == name:
            return option
    known = ", ".join(repr(o["name"]) for o in options) or "none"
    raise ValidationFailedError(
        f"{body_field} {name!r} is not one of the request's {field} ({known})",
        [field_error(["body", body_field], f"unknown option; the request's {field}: {known}")],
    )


def check_step_up(item: ItemRecord, step_up_credential: str | None) -> None:
    """A request marked for step-up is decided only with the passkey that confirmed this very
    decision (``Passkeys.verify_step_up`` gives its credential id); every other way is refused."""
    if item.step_up and step_up_credential is None:
        raise StepUpRequiredError(step_up_message(item.kind))


def rejection_without_comment() -> ValidationFailedError:
    return ValidationFailedError(
        "a rejection needs a comment (or the name of one of the request's reject_options)",
        [field_error(["body", "comment"], "required when approved is false", "missing")],
    )


def ensure_pending(item: ItemRecord) -> None:
    if item.state != ItemState.PENDING:
        raise ConflictError(f"{describe(item.kind)} {item.call_id!r} was already {item.state}")


class Decisions:
    def __init__(
        self,
        db: Database,
        emitter: Emitter,
        items: Items,
        people: People,
        clock: Callable[[], datetime],
        receipts: Receipts | None = None,
    ) -> None:
        self._db = db
        self.receipts = receipts or Receipts(db, clock)
        self._emitter = emitter
        self._items = items
        self._people = people
        self._clock = clock

    def decide_function_call(
        self,
        project_id: int,
        call_id: str,
        *,
        approved: bool,
        comment: str | None = None,
        reject_option_name: str | None = None,
        channel: str,
        actor_key_id: int | None,
        actor_user_id: int | None = None,
        actor_email: str | None = None,
        edited_kwargs: Mapping[str, Any] | None = None,
        step_up_credential: str | None = None,
    ) -> ItemRecord:
        """Approve or reject a pending function call. ``actor_email``: who decided, when that is
        not a person of the server (the recipient of an email link); ``edited_kwargs``: the
        arguments approved instead of the requested ones (only where the request allows edits);
        ``step_up_credential``: the passkey that confirmed this decision (``check_step_up``)."""
        self.check_may_decide(project_id, actor_user_id)
        item = self._items.get(project_id, FUNCTION_CALL, call_id)
        ensure_pending(item)
        decision = self.verdict_on(
            item,
            approved=approved,
            comment=comment,
            reject_option_name=reject_option_name,
            channel=channel,
            actor_key_id=actor_key_id,
            actor_user_id=actor_user_id,
            edited_kwargs=edited_kwargs,
            step_up_credential=step_up_credential,
        )
        return self._complete(item, decision.verdict, decision, actor_email)

    def verdict_on(
        self,
        item: ItemRecord,
        *,
        approved: bool,
        comment: str | None,
        reject_option_name: str | None,
        channel: str,
        actor_key_id: int | None,
        actor_user_id: int | None,
        edited_kwargs: Mapping[str, Any] | None = None,
        step_up_credential: str | None = None,
    ) -> NewDecision:
        """The decision approving or rejecting ``item``, checked complete but not yet recorded."""
        check_step_up(item, step_up_credential)
        edited = checked_edit(item, approved=approved, edited_kwargs=edited_kwargs)
        comment = _blank_to_none(comment)
        if approved:
            if reject_option_name is not None:
                raise ValidationFailedError(
                    "reject_option_name only applies to a rejection",
                    [field_error(["body", "reject_option_name"], "must be null when approved is true")],
                )
            verdict = ItemState.APPROVED
        else:
            if reject_option_name is not None:
                option = _find_option(item, "reject_options", reject_option_name, "reject_option_name")
                comment = comment if comment is not None else _option_text(option)
            if comment is None:
                raise rejection_without_comment()
            verdict = ItemState.REJECTED
        return NewDecision(
            verdict=verdict,
            comment=comment,
            option_name=reject_option_name,
            response=None,
            actor_key_id=actor_key_id,
            channel=channel,
            decided_at=self._clock(),
            spec_digest=item.spec_digest,
            actor_user_id=actor_user_id,
            edited_kwargs=edited,
            step_up_credential=step_up_credential,
        )

    def answer_human_contact(
        self,
        project_id: int,
        call_id: str,
        *,
        response: str | None = None,
        response_option_name: str | None = None,
        channel: str,
        actor_key_id: int | None,
        actor_user_id: int | None = None,
        actor_email: str | None = None,
        step_up_credential: str | None = None,
    ) -> ItemRecord:
        """Answer a pending question (``actor_email``, ``step_up_credential``: as for
        ``decide_function_call``)."""
        self.check_may_decide(project_id, actor_user_id)
        item = self._items.get(project_id, HUMAN_CONTACT, call_id)
        ensure_pending(item)
        check_step_up(item, step_up_credential)
        response = _blank_to_none(response)
        if response_option_name is not None:
            option = _find_option(item, "response_options", response_option_name, "response_option_name")
            response = response if response is not None else _option_text(option)
        if response is None:
            raise ValidationFailedError(
                "an answer needs a response text (or the name of one of the request's response_options)",
                [field_error(["body", "response"], "required", "missing")],
            )
        decision = NewDecision(
            verdict=ItemState.ANSWERED,
            comment=None,
            option_name=response_option_name,
            response=response,
            actor_key_id=actor_key_id,
            channel=channel,
            decided_at=self._clock(),
            spec_digest=item.spec_digest,
            actor_user_id=actor_user_id,
            step_up_credential=step_up_credential,
        )
        return self._complete(item, ItemState.ANSWERED, decision, actor_email)

    def expire(self, item: ItemRecord) -> ItemRecord | None:
        """Complete a pending item whose deadline passed as ``expired``, through the same path
        as a human's decision (waiters wake, webhooks fire). None when it was decided or
        expired meanwhile (by a person, or by another replica's expiry task)."""
        decision = NewDecision(
            verdict=ItemState.EXPIRED,
            comment=expiry_comment(item.expires_at),
            option_name=None,
            response=None,
            actor_key_id=None,
            channel=EXPIRY_CHANNEL,
            decided_at=self._clock(),
            spec_digest=item.spec_digest,
        )
        try:
            return self._complete(item, ItemState.EXPIRED, decision)
        except ConflictError:
            return None

    def check_may_decide(self, project_id: int, actor_user_id: int | None) -> None:
        """A person decides only in a project where they are an admin or a reviewer; a
        project-wide key without an owner was already checked for its scope."""
        if actor_user_id is not None:
            self._people.may_decide(actor_user_id, project_id)

    def actor(self, user_id: int | None) -> UserRecord | None:
        """The deciding person as they are now (read before the write transaction)."""
        return None if user_id is None else self._people.get_user(user_id)

    def record(
        self,
        tx: Tx,
        item: ItemRecord,
        state: str,
        decision: NewDecision,
        actor: UserRecord | None,
        actor_email: str | None = None,
    ) -> ItemRecord | None:
        """Record ``decision`` in ``tx`` and emit ``ItemDecided``: the item as completed, or None
        (nothing written) when it was no longer pending. ``actor_email``: who decided when that
        is not a person of the server (the recipient of an email link). An approval of an item
        that needs several may leave it pending (``quorum.record_approval``). The decision that
        completes an item is signed here, so each is stored with its receipt; an approval that
        leaves its item pending has none (no outcome to vouch for yet)."""
        email = actor_email if actor is None else actor.email
        name = None if actor is None else actor.display_name

        def signed(decision: NewDecision) -> NewDecision:
            return dataclasses.replace(decision, receipt=self.receipts.sign(tx, item, decision, email, name))

        if state == ItemState.APPROVED and decision.policy is None:
            self.check_approver(item, decision, email)
            if item.needs_several:
                return record_approval(
                    tx, self._emitter, item, decision, actor_email=email, actor_name=name, sign=signed
                )
        done = item_rows.complete(tx.conn, item, state, signed(decision), actor_email=email, actor_name=name)
        if done is not None:
            self._emitter.emit(tx, decided_event(done, decision))
        return done

    def check_approver(self, item: ItemRecord, decision: NewDecision, email: str | None) -> None:
        """The person whose key created the request may not approve it (ForbiddenError)."""
        check_not_creator(item, decision.actor_user_id, self._creator_address(item), email)

    def record_many(
        self, tx: Tx, batch: Sequence[tuple[ItemRecord, NewDecision]], actor: UserRecord | None
    ) -> list[ItemRecord | None]:
        """``record`` each decision that completes its item by itself (no approval towards a
        quorum; the approvals already checked with ``check_approver``), with what is the same
        for all done once: the completing UPDATEs and the decision rows in a few statements, the
        receipts signed with the key looked up once, one ``emit_many``. For each, in order, the
        item as completed, or None (nothing written) when it was no longer pending."""
        email = None if actor is None else actor.email
        name = None if actor is None else actor.display_name
        signed = [
            (item, dataclasses.replace(d, receipt=self.receipts.sign(tx, item, d, email, name)))
            for item, d in batch
        ]
        done = item_rows.complete_many(tx.conn, signed, actor_email=email, actor_name=name)
        events = [decided_event(record, d) for record, (_, d) in zip(done, batch, strict=True) if record]
        self._emitter.emit_many(tx, events)
        return done

    def _creator_address(self, item: ItemRecord) -> str | None:
        creator = None if item.creator_user_id is None else self._people.get_user(item.creator_user_id)
        return None if creator is None else creator.email

    def _complete(
        self, item: ItemRecord, state: str, decision: NewDecision, actor_email: str | None = None
    ) -> ItemRecord:
        actor = self.actor(decision.actor_user_id)
        done = self._db.write_grouped(lambda tx: self.record(tx, item, state, decision, actor, actor_email))
        if done is None:
            # Someone else decided between our read and our write.
            raise ConflictError(f"{describe(item.kind)} {item.call_id!r} was already decided")
        logger.info(
            "%s %r %s via %s by key %s user %s",
            describe(item.kind),
            item.call_id,
            state
            if done.state != ItemState.PENDING
            else f"approved ({len(done.approvals())} of {done.quorum})",
            decision.channel,
            decision.actor_key_id,
            decision.actor_user_id,
        )
        return done
