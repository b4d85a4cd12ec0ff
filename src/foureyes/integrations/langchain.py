"""foureyes for LangChain v1 and LangGraph (``pip install foureyes[langchain]``).

Three ways in, one per way LangChain pauses for a human:

- **HumanInTheLoopMiddleware** (``create_agent(..., middleware=[HumanInTheLoopMiddleware(
  interrupt_on={...})], checkpointer=...)``). The graph stops with an interrupt; `Resolver`
  asks foureyes about every action in it and resumes with ``Command(resume=...)``::

      resolver = Resolver(HumanLayer(api_key=...), timeout=3600)
      final = resolver.invoke(agent, {"messages": [...]}, {"configurable": {"thread_id": "t1"}})

  Both interrupt modes: batched (one ``{"action_requests", "review_configs"}`` per model turn,
  answered with ``{"decisions": [...]}`` in order) and per-call (one ``tool_approval`` per
  call, answered with one decision). Each tool's ``allowed_decisions`` is honoured: approved
  is ``approve`` (``edit`` with ``edited_action`` when a reviewer edited the arguments);
  rejected is ``reject`` with the reviewer's comment as ``message``, which the middleware
  hands the model as an error ``ToolMessage``; expired is ``reject`` saying nobody decided; a
  tool that allows ``respond`` but not ``approve`` becomes a question, and the human's answer
  is the ``respond`` message. A tool whose decisions cannot say no (no ``reject``) is refused
  with ``ValueError`` before anyone is asked: silence must have somewhere to go.

- **A hand-built graph**: call `request_approval` (or `ask_human`) in a node. It raises
  LangGraph's ``interrupt()``; the same `Resolver` answers it, and on resume the node gets a
  `Decision` (or the answer text).

- **Classic tools**: `approval_required(tool, client)` wraps any ``BaseTool`` so that invoking
  it waits for an approval; a refusal raises ``ToolException`` with the reviewer's comment,
  which the model receives as the tool's error result.

The durable flow needs nothing extra: LangGraph's checkpointer keeps the paused graph, and
`Resolver.poll` returns the ``Command`` only once every decision is in (None before), so a
process can stop while a human decides and a later one resumes the thread. Call ids: the
tool call id in per-call mode and for classic tools, else the interrupt id plus the action's
index, so resuming asks nothing twice. Tested with langchain 1.5 and langgraph 1.2.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Unpack

from langchain_core.tools import BaseTool, ToolException
from langgraph.types import Command, Interrupt, interrupt
from pydantic import ConfigDict
from pydantic_core import to_jsonable_python

from foureyes._decision import Decision, DecisionOutcome
from foureyes._exceptions import ApprovalTimeout
from foureyes.integrations._reviews import Ask, Client, ReviewOptions, Reviews, refusal_text
from foureyes.models import RespondedBy

logger = logging.getLogger("foureyes.integrations")

__all__ = ["Resolver", "approval_required", "ask_human", "request_approval"]

# The interrupt values `request_approval` and `ask_human` raise (foureyes' own, not LangChain's).
APPROVAL = "foureyes_approval"
QUESTION = "foureyes_question"


# ---------------------------------------------------------------------------- hand-built graphs


def request_approval(fn: str, kwargs: dict[str, Any], *, call_id: str | None = None) -> Decision:
    """In a LangGraph node: pause until a human decided ``fn(**kwargs)``; the `Decision`.

    The node re-runs from its start on resume (LangGraph's rule), so call this before the
    side effect, and run the side effect only when ``decision.approved``.
    """
    value = {"type": APPROVAL, "fn": fn, "kwargs": to_jsonable_python(kwargs), "call_id": call_id}
    return _decision_from_resume(interrupt(value))


def ask_human(question: str, *, call_id: str | None = None) -> str:
    """In a LangGraph node: pause until a human answered ``question``; the answer."""
    decision = _decision_from_resume(interrupt({"type": QUESTION, "msg": question, "call_id": call_id}))
    if not decision.answered or decision.answer is None:
        raise ApprovalTimeout(f"nobody answered {question!r}: {decision.detail}")
    return decision.answer


def _decision_to_resume(decision: Decision) -> dict[str, Any]:
    # Checkpointers store the resume value: keep it plain JSON.
    resume: dict[str, Any] = to_jsonable_python(asdict(decision))
    return resume


def _decision_from_resume(value: Any) -> Decision:
    if not isinstance(value, dict) or "outcome" not in value:
        raise ValueError(f"a foureyes interrupt was resumed with {value!r}, not a foureyes decision")
    fields = dict(value)
    fields["outcome"] = DecisionOutcome(fields["outcome"])
    if fields.get("responded_by") is not None:
        fields["responded_by"] = RespondedBy.model_validate(fields["responded_by"])
    if fields.get("responded_at") is not None:
        fields["responded_at"] = datetime.fromisoformat(fields["responded_at"])
    return Decision(**fields)


# ---------------------------------------------------------------------------- the resolver


def _allowed(review: dict[str, Any] | None) -> list[str]:
    if review is None:
        return ["approve", "edit", "reject"]
    return list(review.get("allowed_decisions", []))


def _allowed_in_schema(schema: Any) -> list[str] | None:
    """The decision types a per-call interrupt's JSON Schema allows, or None if unreadable."""
    if not isinstance(schema, dict):
        return None
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            kind = (
                node.get("properties", {}).get("type") if isinstance(node.get("properties"), dict) else None
            )
            if isinstance(kind, dict):
                for key in ("const", "enum"):
                    value = kind.get(key)
                    found.extend(value if isinstance(value, list) else [value] if value else [])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    return sorted(set(found)) or None


def _regroup(flat: list[Decision], groups: list[list[Ask]]) -> list[list[Decision]]:
    out, start = [], 0
    for group in groups:
        out.append(flat[start : start + len(group)])
        start += len(group)
    return out


class Resolver:
    """Answers LangGraph interrupts through foureyes (see the module docstring).

    ``options`` (`ReviewOptions`): ``timeout``, how long `resume` waits for each decision
    before it counts as expired (default: the client's ``timeout``; None waits forever),
    ``contact_channel`` and ``reject_options``.
    """

    def __init__(self, client: Client, **options: Unpack[ReviewOptions]) -> None:
        self.reviews = Reviews(client, **options)

    # -------------------------------------------------------------- what to ask

    def _questions(self, pause: Interrupt) -> list[tuple[Ask, str, list[str]]]:
        """For one interrupt: what to ask, about which tool, with which decisions allowed."""
        value = pause.value
        if not isinstance(value, dict):
            raise ValueError(f"interrupt {pause.id} is not one foureyes can answer: {value!r}")
        kind = value.get("type")
        if kind == APPROVAL:
            ask = self.reviews.approval(value.get("call_id") or pause.id, value["fn"], value["kwargs"])
            return [(ask, value["fn"], ["approve", "reject"])]
        if kind == QUESTION:
            return [(Ask.question(value.get("call_id") or pause.id, value["msg"]), "", ["respond"])]
        if kind == "tool_approval":  # the middleware's per-call mode
            allowed = _allowed_in_schema(pause.response_schema) or ["approve", "edit", "reject"]
            return [self._action(value["tool_call_id"], value, allowed)]
        if "action_requests" in value:  # the middleware's batched mode
            reviews = {r.get("action_name"): r for r in value.get("review_configs", [])}
            return [
                self._action(f"{pause.id}-{index}", action, _allowed(reviews.get(action["name"])))
                for index, action in enumerate(value["action_requests"])
            ]
        raise ValueError(f"interrupt {pause.id} is not one foureyes can answer: {value!r}")

    def _action(self, call_id: str, action: dict[str, Any], allowed: list[str]) -> tuple[Ask, str, list[str]]:
        name, args = action["name"], action.get("args", {})
        if "approve" in allowed or "edit" in allowed:
            if "reject" not in allowed:
                raise ValueError(
                    f"{name} allows {allowed}: with no 'reject', a refusal or a timeout could not be "
                    "expressed, so foureyes will not ask"
                )
            return self.reviews.approval(call_id, name, args), name, allowed
        if "respond" in allowed:
            question = action.get("description") or f"{name}({json.dumps(args)})"
            return Ask.question(call_id, question), name, allowed
        raise ValueError(f"{name} allows {allowed}: none of them is a human's decision foureyes can give")

    # -------------------------------------------------------------- how to answer

    @staticmethod
    def _answer(decision: Decision, tool: str, allowed: list[str]) -> dict[str, Any]:
        """One LangChain decision for one action."""
        if decision.answered:
            return {"type": "respond", "message": decision.answer}
        if decision.approved and decision.edited_kwargs is None:
            return {"type": "approve"}
        if decision.approved and "edit" in allowed:
            return {"type": "edit", "edited_action": {"name": tool, "args": decision.edited_kwargs}}
        if decision.approved:
            edited = json.dumps(decision.edited_kwargs)
            message = f"A human reviewer approved {tool} only with these arguments: {edited}"
            return {"type": "reject", "message": message}
        if "reject" not in allowed:  # a question nobody answered, on a tool that cannot be rejected
            raise ApprovalTimeout(f"nobody answered for {tool}: {decision.detail}")
        return {"type": "reject", "message": refusal_text(tool, decision)}

    @staticmethod
    def _resume_value(pause: Interrupt, answers: list[dict[str, Any]], decisions: list[Decision]) -> Any:
        kind = pause.value.get("type")
        if kind in (APPROVAL, QUESTION):
            return _decision_to_resume(decisions[0])
        if kind == "tool_approval":
            return answers[0]
        return {"decisions": answers}

    def _command(self, pauses: Sequence[Interrupt], decided: list[list[Decision]]) -> Command[Any]:
        resume: dict[str, Any] = {}
        for pause, decisions in zip(pauses, decided, strict=True):
            questions = self._questions(pause)
            answers = [
                self._answer(decision, tool, allowed)
                for (_, tool, allowed), decision in zip(questions, decisions, strict=True)
            ]
            resume[pause.id] = self._resume_value(pause, answers, decisions)
        return Command(resume=resume)

    # -------------------------------------------------------------- entry points

    def resume(self, pauses: Sequence[Interrupt]) -> Command[Any]:
        """Wait for every decision the interrupts need; the ``Command`` that resumes the graph."""
        asks = [[ask for ask, _, _ in self._questions(pause)] for pause in pauses]
        flat = self.reviews.decide_all([ask for group in asks for ask in group])
        return self._command(pauses, _regroup(flat, asks))

    async def aresume(self, pauses: Sequence[Interrupt]) -> Command[Any]:
        asks = [[ask for ask, _, _ in self._questions(pause)] for pause in pauses]
        flat = await self.reviews.adecide_all([ask for group in asks for ask in group])
        return self._command(pauses, _regroup(flat, asks))

    def poll(
        self, pauses: Sequence[Interrupt], *, wait: float = 0.0, expire_after: float | None = None
    ) -> Command[Any] | None:
        """Submit every request (idempotently); the ``Command`` once all are decided, else None.

        For the durable flow: the checkpointer keeps the paused graph, so call this from any
        process, as often as you like. A request pending ``expire_after`` seconds is expired.
        """
        decided: list[list[Decision]] = []
        complete = True
        for pause in pauses:
            found = [
                self.reviews.peek(ask, wait=wait, expire_after=expire_after)
                for ask, _, _ in self._questions(pause)
            ]
            complete = complete and all(d is not None for d in found)
            decided.append([d for d in found if d is not None])
        return self._command(pauses, decided) if complete else None

    def invoke(self, graph: Any, input: Any, config: Any, **kwargs: Any) -> Any:
        """``graph.invoke`` until it no longer stops for a human; the final result."""
        result = graph.invoke(input, config, **kwargs)
        while pauses := graph.get_state(config).interrupts:
            result = graph.invoke(self.resume(pauses), config, **kwargs)
        return result

    async def ainvoke(self, graph: Any, input: Any, config: Any, **kwargs: Any) -> Any:
        result = await graph.ainvoke(input, config, **kwargs)
        while pauses := (await graph.aget_state(config)).interrupts:
            result = await graph.ainvoke(await self.aresume(pauses), config, **kwargs)
        return result


# ---------------------------------------------------------------------------- classic tools

_TOOL_CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "foureyes_tool_call_id", default=None
)


class ApprovalRequiredTool(BaseTool):
    """``inner``, run only after a human approved the exact arguments it is called with."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    reviews: Reviews

    def run(self, tool_input: Any, *args: Any, tool_call_id: str | None = None, **kwargs: Any) -> Any:
        token = _TOOL_CALL_ID.set(tool_call_id)
        try:
            return super().run(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _TOOL_CALL_ID.reset(token)

    async def arun(self, tool_input: Any, *args: Any, tool_call_id: str | None = None, **kwargs: Any) -> Any:
        token = _TOOL_CALL_ID.set(tool_call_id)
        try:
            return await super().arun(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _TOOL_CALL_ID.reset(token)

    def _ask(self, kwargs: dict[str, Any]) -> Ask:
        call_id = _TOOL_CALL_ID.get() or self.reviews.client.genid("call")
        return self.reviews.approval(call_id, self.name, to_jsonable_python(kwargs))

    def _check(self, decision: Decision) -> None:
        if not decision.approved or decision.edited_kwargs is not None:
            raise ToolException(refusal_text(self.name, decision))

    def _run(self, **kwargs: Any) -> Any:
        self._check(self.reviews.decide(self._ask(kwargs)))
        return self.inner.invoke(kwargs)

    async def _arun(self, **kwargs: Any) -> Any:
        self._check(await self.reviews.adecide(self._ask(kwargs)))
        return await self.inner.ainvoke(kwargs)


def approval_required(tool: BaseTool, client: Client, **options: Unpack[ReviewOptions]) -> BaseTool:
    """``tool``, under the same name, description and arguments, gated by a human's approval.

    A refusal or a timeout raises ``ToolException`` with the reason, handed to the model as the
    tool's error result (``handle_tool_error``); errors of ``tool`` itself are its own.
    """
    reviews = Reviews(client, **options)
    return ApprovalRequiredTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        return_direct=tool.return_direct,
        handle_tool_error=True,
        inner=tool,
        reviews=reviews,
    )
