"""``Policies``: a project's ordered rules, kept by the admin commands and applied to every new
request in its create transaction.

The first rule (by position) whose expression matches acts: ``approve`` and ``reject`` decide
the request at once through the one decision path (a decision row attributed to the rule,
channel ``policy``, and ``ItemDecided``), so the agent reads the answer in the create response;
``require:N`` raises the approvals it needs, ``require:all_of(...)`` names approver groups (which
the project must have when the rule is written: approvers.py); ``route:...`` sends it to its
targets (routes.py); ``escalate:...`` gives it its own escalation steps, instead of its
project's chain (policy_steps.py; ``chains.py`` fires them). No match: a human decides. A
shadow rule never acts: when it matches, a ``policy`` event records what it would have done,
and evaluation goes on. See ``rules.py`` for the expressions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from foureyes._protocol import ItemState
from foureyes.server.domain.approvers import unknown_groups
from foureyes.server.domain.decisions import Decisions
from foureyes.server.domain.errors import InvalidParameterError, NotFoundError
from foureyes.server.domain.events import Emitter, PolicyMatched, SettingsChanged
from foureyes.server.domain.items import FUNCTION_CALL
from foureyes.server.domain.policy_steps import channels_of
from foureyes.server.domain.rules import (
    APPROVE,
    ESCALATE,
    MAX_COMMENT_LENGTH,
    REQUIRE,
    ROUTE,
    Action,
    check_name,
    compile_expression,
    context,
    matches,
    parse_action,
)
from foureyes.storage import Database, ItemRecord, NewDecision, PolicyRecord, ProjectRecord, Tx
from foureyes.storage import escalations as step_rows
from foureyes.storage import items as item_rows
from foureyes.storage import keys as key_rows
from foureyes.storage import policies as policy_rows

logger = logging.getLogger(__name__)

CHANNEL = "policy"
# Rules are evaluated in turn on every create: their number bounds the cost.
MAX_RULES = 50
MAX_TEST_ITEMS = 1000
_NEVER = datetime.min.replace(tzinfo=UTC)  # the time of a verdict with no match
_RULE_FIELDS = {"name", "when", "then", "comment", "shadow"}
MAX_ACTION_LENGTH = 1000  # the column's width
# what a rule may do to a question too (the others apply to function calls)
_ANY_KIND = (ROUTE, ESCALATE)


@dataclass(frozen=True)
class Verdict:
    """The rules that matched a new item, in order: shadows, then the one that acts (if any)."""

    matched: tuple[tuple[PolicyRecord, Action], ...] = ()
    at: datetime = _NEVER

    @property
    def acting(self) -> Action | None:
        last = self.matched[-1] if self.matched else None
        return None if last is None or last[0].shadow else last[1]

    @property
    def routes(self) -> tuple[str, ...]:
        acting = self.acting
        return acting.channels if acting is not None and acting.kind == ROUTE else ()

    @property
    def decides(self) -> bool:
        return self.acting is not None and self.acting.decides


@dataclass(frozen=True)
class Trial:
    """What an expression says of one past request."""

    item: ItemRecord
    agent: str | None
    matched: bool


def variables_of(item: ItemRecord, agent: str | None, project: str, now: datetime) -> dict[str, Any]:
    """What a rule's expression sees of a request (rules.py lists them)."""
    spec = item.spec
    if item.kind == FUNCTION_CALL:
        fn, args = str(spec["fn"]), dict(spec.get("kwargs") or {})
    else:
        fn, args = "", {"msg": spec.get("msg"), "subject": spec.get("subject")}
    return {
        "fn": fn,
        "args": args,
        "agent": agent or "",
        "run_id": item.run_id,
        "project": project,
        "now": now,
        "kind": item.kind,
    }


def _checked_rule(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One rule as given (CLI options or a YAML entry), checked whole: name, expression, action."""
    unknown = sorted(set(raw) - _RULE_FIELDS)
    if unknown:
        raise InvalidParameterError(
            f"unknown field(s) {', '.join(unknown)} (a rule has {', '.join(sorted(_RULE_FIELDS))})"
        )
    name = check_name(str(raw.get("name") or ""))
    expression = raw.get("when")
    if not isinstance(expression, str):
        raise InvalidParameterError(f"policy {name!r}: 'when' must be a CEL expression")
    try:
        compile_expression(expression)
        action = parse_action(str(raw.get("then") or ""))
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"policy {name!r}: {exc.message}") from None
    comment = raw.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_LENGTH):
        raise InvalidParameterError(
            f"policy {name!r}: the comment must be text of at most {MAX_COMMENT_LENGTH}"
        )
    shadow = raw.get("shadow", False)
    if not isinstance(shadow, bool):
        raise InvalidParameterError(f"policy {name!r}: 'shadow' must be true or false")
    if len(str(action)) > MAX_ACTION_LENGTH:
        raise InvalidParameterError(
            f"policy {name!r}: the action is longer than {MAX_ACTION_LENGTH} characters"
        )
    return {
        "name": name,
        "expression": expression,
        "action": str(action),
        "comment": comment,
        "shadow": shadow,
    }


def _check_groups(tx: Tx, project: ProjectRecord, rules: Sequence[Mapping[str, Any]]) -> None:
    """Every group a rule's action names is one of the project's."""
    for rule in rules:
        wanted = parse_action(rule["action"]).approvers
        unknown = [] if wanted is None else unknown_groups(tx.conn, project.id, wanted)
        if unknown:
            raise InvalidParameterError(
                f"policy {rule['name']!r}: project {project.slug!r} has no group named "
                f"{', '.join(unknown)} (foureyes groups add)"
            )


class Policies:
    def __init__(
        self, db: Database, emitter: Emitter, decisions: Decisions, clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._emitter = emitter
        self._decisions = decisions
        self._clock = clock

    # ------------------------------------------------------------------ admin

    def add(
        self,
        project: str,
        name: str,
        when: str,
        then: str,
        *,
        comment: str | None = None,
        shadow: bool = False,
        position: int | None = None,
    ) -> PolicyRecord:
        """A new rule, last or at ``position`` (those from there move down one)."""
        rule = _checked_rule({"name": name, "when": when, "then": then, "comment": comment, "shadow": shadow})
        now = self._clock()
        with self._db.write() as tx:
            found = key_rows.ensure_project(tx.conn, project, now=now)
            if policy_rows.count(tx.conn, found.id) >= MAX_RULES:
                raise InvalidParameterError(
                    f"project {project!r} has {MAX_RULES} policies, the most it may have"
                )
            if any(p.name == rule["name"] for p in policy_rows.list_policies(tx.conn, found.id)):
                raise InvalidParameterError(f"project {project!r} already has a policy named {name!r}")
            _check_groups(tx, found, [rule])
            last = policy_rows.next_position(tx.conn, found.id)
            at = last if position is None else max(1, min(position, last))
            policy_rows.make_room(tx.conn, found.id, at)
            record = policy_rows.insert(tx.conn, project_id=found.id, position=at, now=now, **rule)
            self._changed(
                tx, found.id, "policy_added", name=record.name, action=record.action, shadow=record.shadow
            )
        logger.info("policy %r added to project %r at %d: %s", record.name, project, at, record.action)
        return record

    def remove(self, project: str, name: str) -> bool:
        with self._db.write() as tx:
            found = self._project(tx.conn, project)
            removed = policy_rows.remove(tx.conn, found.id, name)
            if removed:
                self._changed(tx, found.id, "policy_removed", name=name)
        return removed

    def list_policies(self, project: str) -> list[PolicyRecord]:
        with self._db.read() as conn:
            found = key_rows.find_project(conn, project)
            return [] if found is None else policy_rows.list_policies(conn, found.id)

    def list_for(self, project_id: int) -> list[PolicyRecord]:
        with self._db.read() as conn:
            return policy_rows.list_policies(conn, project_id)

    def apply(self, project: str, rules: Sequence[Mapping[str, Any]]) -> list[PolicyRecord]:
        """The project's rules become exactly ``rules``, in that order, in one transaction; one
        invalid rule and nothing changes."""
        if len(rules) > MAX_RULES:
            raise InvalidParameterError(f"{len(rules)} policies: a project may have at most {MAX_RULES}")
        checked = [_checked_rule(rule) for rule in rules]
        names = [rule["name"] for rule in checked]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidParameterError(f"policy names must be unique: {', '.join(twice)}")
        now = self._clock()
        with self._db.write() as tx:
            found = key_rows.ensure_project(tx.conn, project, now=now)
            _check_groups(tx, found, checked)
            policy_rows.replace_all(tx.conn, found.id, checked, now)
            self._changed(tx, found.id, "policies_applied", names=names)
            applied = policy_rows.list_policies(tx.conn, found.id)
        logger.info("project %r policies replaced: %d rules", project, len(applied))
        return applied

    def test(self, project: str, expression: str, last: int = 20) -> list[Trial]:
        """Whether ``expression`` matches each of the project's ``last`` requests, newest first."""
        if not 1 <= last <= MAX_TEST_ITEMS:
            raise InvalidParameterError(f"--last must be from 1 to {MAX_TEST_ITEMS}")
        program = compile_expression(expression)
        with self._db.read() as conn:
            found = self._project(conn, project)
            recent = policy_rows.recent_items(conn, found.id, last)
        return [
            Trial(
                item,
                agent,
                matches(program, context(variables_of(item, agent, found.slug, item.requested_at))),
            )
            for item, agent in recent
        ]

    def action_text(self, then: str) -> str:
        """An action as a rule would store it (``policies test --then``); InvalidParameterError
        saying what is wrong with it."""
        return str(parse_action(then))

    def _project(self, conn: Any, slug: str) -> ProjectRecord:
        found = key_rows.find_project(conn, slug)
        if found is None:
            raise NotFoundError(f"project {slug!r} not found")
        return found

    def _changed(self, tx: Tx, project_id: int, what: str, **details: Any) -> None:
        self._emitter.emit(
            tx,
            SettingsChanged(
                project_id=project_id, at=self._clock(), channel="admin", what=what, details=details
            ),
        )

    # ------------------------------------------------------------------ at create time

    def evaluate(self, tx: Tx, item: ItemRecord, actor_key_id: int | None) -> Verdict:
        """Which of the project's rules match a new item (before it is announced): the shadow
        ones, and the first that acts."""
        rules = policy_rows.list_policies(tx.conn, item.project_id)
        if not rules:
            return Verdict()
        key = None if actor_key_id is None else key_rows.get_key(tx.conn, actor_key_id)
        project = key_rows.get_project(tx.conn, item.project_id)
        agent = None if key is None else key.name or key.prefix
        now = self._clock()
        variables = context(variables_of(item, agent, "" if project is None else project.slug, now))
        matched: list[tuple[PolicyRecord, Action]] = []
        for rule in rules:
            try:
                program, action = compile_expression(rule.expression), parse_action(rule.action)
            except InvalidParameterError:  # stored before a stricter check: it cannot match
                continue
            if not matches(program, variables):
                continue
            if item.kind != FUNCTION_CALL and action.kind not in _ANY_KIND:
                continue
            matched.append((rule, action))
            if not rule.shadow:
                break
        return Verdict(tuple(matched), now)

    def act(self, tx: Tx, item: ItemRecord, verdict: Verdict) -> ItemRecord:
        """Record the matches of ``evaluate`` and do what the acting rule says, in the item's
        create transaction (after its ``created`` event)."""
        for rule, action in verdict.matched:
            self._emit_match(tx, item, rule, action, verdict.at)
            if not rule.shadow:
                logger.info("policy %r matched %r: %s", rule.name, item.call_id, action)
                return self._act(tx, item, rule, action, verdict.at)
        return item

    def _emit_match(
        self, tx: Tx, item: ItemRecord, rule: PolicyRecord, action: Action, now: datetime
    ) -> None:
        if action.decides and not rule.shadow:
            return  # its decision is the record (ItemDecided, attributed to the rule)
        self._emitter.emit(
            tx,
            PolicyMatched(
                record=item,
                project_id=item.project_id,
                at=now,
                channel=CHANNEL,
                policy=rule.name,
                action=str(action),
                shadow=rule.shadow,
            ),
        )

    def _act(self, tx: Tx, item: ItemRecord, rule: PolicyRecord, action: Action, now: datetime) -> ItemRecord:
        if action.kind == REQUIRE and action.approvers is not None:
            # the rule's groups take the place of any the request named; the count only rises
            wanted = action.approvers
            required = max(item.quorum, wanted.needed, action.approvals or 1)
            groups = (wanted.groups, wanted.needed)
            return item_rows.set_quorum_and_routes(tx.conn, item, required, item.routes, groups)
        if action.kind == REQUIRE:
            required = max(item.quorum, action.approvals or 1)
            return item_rows.set_quorum_and_routes(tx.conn, item, required, item.routes)
        if action.kind == ROUTE:
            return item_rows.set_quorum_and_routes(tx.conn, item, item.required_approvals, action.channels)
        if action.kind == ESCALATE:
            project = key_rows.get_project(tx.conn, item.project_id)
            defaults = () if project is None else project.default_channels
            steps = [{**step, "policy": rule.name} for step in channels_of(action.steps, defaults)]
            first = item.requested_at + timedelta(seconds=action.steps[0][0])
            return step_rows.set_own_steps(tx.conn, item, steps, first)
        approved = action.kind == APPROVE
        verdict = ItemState.APPROVED if approved else ItemState.REJECTED
        comment = rule.comment if approved or rule.comment else f"rejected by policy {rule.name}"
        decision = NewDecision(
            verdict=verdict,
            comment=comment,
            option_name=None,
            response=None,
            actor_key_id=None,
            channel=CHANNEL,
            decided_at=now,
            spec_digest=item.spec_digest,
            policy=rule.name,
        )
        done = self._decisions.record(tx, item, verdict, decision, None)
        return item if done is None else done
