"""Policy rules: a CEL expression and an action, checked when a rule is written and evaluated
against a new request.

An expression sees ``fn`` (the function's name; "" for a question), ``args`` (its keyword
arguments; a question's ``msg`` and ``subject``), ``agent`` (the creating key's name, else its
prefix), ``run_id``, ``project`` (the slug), ``now`` (a timestamp) and ``kind``
(``function_call`` or ``human_contact``). It matches when it evaluates to ``true``; any other
value, or an error while evaluating (an argument the request lacks, a type mismatch), is no
match. Expressions are compiled once (a small cache keyed by the text) and bounded in length;
CEL itself has no loops and no side effects, so a rule's cost is bounded by its size.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from foureyes._approvers import MAX_REQUIRED_APPROVALS
from foureyes.server.domain.approvers import SYNTAX, Requirement, parse_spelling
from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.domain.policy_steps import Steps, parse_steps, steps_text
from foureyes.server.domain.routes import check_targets

if TYPE_CHECKING:
    import cel


def _cel() -> ModuleType:
    """The CEL package, imported on first use: its ``__init__`` also loads its own command line
    (prompt_toolkit, typer, rich), which would cost every server and CLI start seconds."""
    import cel

    return cel


MAX_EXPRESSION_LENGTH = 1000
MAX_COMMENT_LENGTH = 2000
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
APPROVE = "approve"
REJECT = "reject"
REQUIRE = "require"
ROUTE = "route"
ESCALATE = "escalate"
VARIABLES = ("fn", "args", "agent", "run_id", "project", "now", "kind")
_POSITION = re.compile(r"<input>:(\d+):(\d+)")


@dataclass(frozen=True)
class Action:
    """What a matching rule does: ``approve``, ``reject``, ``require`` (``approvals`` people, or
    the ``approvers`` of groups: approvers.py), ``route`` (to ``channels``, the targets of
    routes.py) or ``escalate`` (its ``steps``: policy_steps.py)."""

    kind: str
    approvals: int | None = None
    channels: tuple[str, ...] = ()
    approvers: Requirement | None = None
    steps: Steps = ()

    @property
    def decides(self) -> bool:
        return self.kind in (APPROVE, REJECT)

    def __str__(self) -> str:
        if self.kind == REQUIRE and self.approvers is not None and self.approvals is not None:
            return f"require:{self.approvals}+{self.approvers}"
        if self.kind == REQUIRE:
            return f"require:{self.approvers or self.approvals}"
        if self.kind == ROUTE:
            return "route:" + ",".join(self.channels)
        if self.kind == ESCALATE:
            return "escalate:" + steps_text(self.steps)
        return self.kind


def parse_action(text: str) -> Action:
    """``approve``, ``reject``, ``require:N``, ``require:all_of(A,B)`` (approvers.py), both
    (``require:3+all_of(A,B)``), ``route:TARGET[,TARGET...]`` or ``escalate:DELAY>TARGET[,TARGET][;...]``."""
    head, _, rest = text.strip().partition(":")
    if head == REQUIRE:
        count, plus, spelling = rest.partition("+")
        groups = parse_spelling(spelling if plus else rest)
        if groups is not None and plus:
            approvals = _count_with(count.strip(), groups, text.strip())
            return Action(REQUIRE, approvals=approvals, approvers=groups)
        if groups is not None:
            return Action(REQUIRE, approvers=groups)
    if head in (APPROVE, REJECT) and not rest:
        return Action(head)
    if head == REQUIRE and rest.isdigit() and 1 <= int(rest) <= MAX_REQUIRED_APPROVALS:
        return Action(REQUIRE, approvals=int(rest))
    if head == ROUTE and rest.strip():
        return Action(ROUTE, channels=check_targets(rest.split(",")))
    if head == ESCALATE:
        return Action(ESCALATE, steps=parse_steps(rest))
    raise InvalidParameterError(
        f"invalid action {text!r}: use approve, reject, require:N (N from 1 to {MAX_REQUIRED_APPROVALS}), "
        f"require:GROUPS ({SYNTAX}), require:N+GROUPS, route:TARGET[,TARGET] or "
        "escalate:DELAY>TARGET[,TARGET][;DELAY>TARGET...] (docs/policies.md)"
    )


def _count_with(count: str, groups: Requirement, text: str) -> int:
    """The N of ``require:N+GROUPS``: 1 to 20, and no fewer than the approvals the groups need
    (a smaller count would say less than the rule does)."""
    if not count.isdigit() or not 1 <= int(count) <= MAX_REQUIRED_APPROVALS:
        raise InvalidParameterError(
            f"invalid action {text!r}: the count before '+' must be from 1 to {MAX_REQUIRED_APPROVALS}"
        )
    if int(count) < groups.needed:
        raise InvalidParameterError(
            f"invalid action {text!r}: {groups} already needs {groups.needed} approvals; "
            f"write require:{groups}, or a count of at least {groups.needed}"
        )
    return int(count)


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidParameterError(
            f"invalid policy name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    return name


def _position_of(message: str) -> str:
    found = _POSITION.search(message)
    return "" if found is None else f" at line {found.group(1)}, column {found.group(2)}"


def compile_expression(expression: str) -> cel.Program:
    """The compiled expression; InvalidParameterError naming where it is wrong."""
    if not expression.strip():
        raise InvalidParameterError("the expression is empty")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidParameterError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        return _compiled(expression)
    except ValueError as exc:
        text = str(exc)
        # The parser's own report ends with the expression and a caret under the error.
        detail = text.split("ERROR: ", 1)[-1]
        raise InvalidParameterError(f"invalid expression{_position_of(text)}: {detail}") from None


@functools.lru_cache(maxsize=512)
def _compiled(expression: str) -> cel.Program:
    program: cel.Program = _cel().compile(expression)
    return program


def context(variables: Mapping[str, Any]) -> cel.Context:
    """The request's variables converted once for all of a project's rules (converting them is
    most of a rule's cost: a tenth of it, evaluated 20 times, in bench/README.md)."""
    found: cel.Context = _cel().Context(dict(variables))
    return found


def matches(program: cel.Program, variables: cel.Context) -> bool:
    """Whether the rule matches: only a plain ``true`` does; an evaluation error is no match."""
    try:
        return program.execute(variables) is True
    except Exception:  # the expression's own failure (a missing key, a type mismatch)
        return False
