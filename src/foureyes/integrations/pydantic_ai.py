"""foureyes for Pydantic AI's deferred tools (``pip install foureyes[pydantic-ai]``).

A tool declared with ``requires_approval=True`` (or raising ``ApprovalRequired``) is deferred:
the run either hands the calls to a ``HandleDeferredToolCalls`` capability, or stops with
``DeferredToolRequests`` as its output ("stop the world") and a later run continues with
``deferred_tool_results=DeferredToolResults(...)``. `DeferredApprovals` serves both::

    approvals = DeferredApprovals(AsyncHumanLayer(api_key=...), timeout=3600)
    agent = Agent(model, capabilities=[approvals.capability()])      # decided inline

    result = await agent.run("...", output_type=[str, DeferredToolRequests])   # or: stop
    results = await approvals.aresults(result.output)   # None until every call is decided
    await agent.run(message_history=result.all_messages(), deferred_tool_results=results)

Mapping: approved is ``ToolApproved()`` (``ToolApproved(override_args=...)`` when a reviewer
edited the arguments); rejected is ``ToolDenied(message=...)`` with the reviewer's comment,
which the model receives as the tool's result; expired is ``ToolDenied`` saying nobody decided.
A call deferred with ``CallDeferred(kind="question")`` goes to a human as a question (its
``question`` metadata, else its arguments) and the answer is the call's result; unanswered in
time, it fails with ``ToolFailed``. Other deferred calls (``kind="external"``) are not foureyes'
to answer and are left to bubble up. The tool call id is the foureyes call id, so asking
again in the next run finds the same request. Tested with pydantic-ai-slim 2.68.
"""

from __future__ import annotations

import json
from typing import Any, Unpack

from pydantic_ai import RunContext
from pydantic_ai.capabilities import HandleDeferredToolCalls
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied

from foureyes._decision import Decision
from foureyes.integrations._reviews import Ask, Client, ReviewOptions, Reviews, refusal_text

__all__ = ["DeferredApprovals", "approval_result"]


def approval_result(tool: str, decision: Decision) -> ToolApproved | ToolDenied:
    """Pydantic AI's answer to one approval, as ``decision`` says."""
    if decision.approved:
        return ToolApproved(override_args=decision.edited_kwargs)
    return ToolDenied(message=refusal_text(tool, decision))


def _who(decision: Decision) -> str | None:
    by = decision.responded_by
    return (by.email or by.name) if by else None


class DeferredApprovals:
    """Resolves Pydantic AI's deferred tool calls through foureyes (see the module docstring).

    ``options`` (`ReviewOptions`): ``timeout``, how long the inline handler waits for each
    decision before the call counts as expired (default: the client's ``timeout``; None waits
    forever), ``contact_channel`` and ``reject_options``.
    """

    def __init__(self, client: Client, **options: Unpack[ReviewOptions]) -> None:
        self.reviews = Reviews(client, **options)

    # -------------------------------------------------------------- what to ask

    def _asks(self, requests: DeferredToolRequests) -> list[tuple[Ask, ToolCallPart]]:
        asks = [
            (self.reviews.approval(part.tool_call_id, part.tool_name, part.args_as_dict()), part)
            for part in requests.approvals
        ]
        for part in requests.calls:
            if requests.kind(part.tool_call_id) == "question":
                asks.append((Ask.question(part.tool_call_id, self._question(requests, part)), part))
        return asks

    @staticmethod
    def _question(requests: DeferredToolRequests, part: ToolCallPart) -> str:
        question = requests.metadata.get(part.tool_call_id, {}).get("question")
        if isinstance(question, str) and question:
            return question
        args = part.args_as_dict()
        if len(args) == 1 and isinstance(next(iter(args.values())), str):
            return str(next(iter(args.values())))
        return f"{part.tool_name}({json.dumps(args)})"

    @staticmethod
    def _results(decided: list[tuple[Ask, ToolCallPart, Decision]]) -> DeferredToolResults:
        results = DeferredToolResults()
        for ask, part, decision in decided:
            if ask.is_question:
                answered = decision.answered and decision.answer is not None
                results.calls[part.tool_call_id] = (
                    decision.answer if answered else ToolFailed(refusal_text(part.tool_name, decision))
                )
            else:
                results.approvals[part.tool_call_id] = approval_result(part.tool_name, decision)
            if who := _who(decision):
                results.answered_by[part.tool_call_id] = who
        return results

    # -------------------------------------------------------------- inline: HandleDeferredToolCalls

    async def handler(
        self, ctx: RunContext[Any], requests: DeferredToolRequests
    ) -> DeferredToolResults | None:
        """A ``HandleDeferredToolCalls`` handler: waits for a human on every approval and question."""
        asks = self._asks(requests)
        if not asks:
            return None
        decisions = await self.reviews.adecide_all([ask for ask, _ in asks])
        return self._results([(ask, part, d) for (ask, part), d in zip(asks, decisions, strict=True)])

    def capability(self) -> HandleDeferredToolCalls[Any]:
        return HandleDeferredToolCalls(handler=self.handler)

    # -------------------------------------------------------------- stop the world

    async def aresults(
        self, requests: DeferredToolRequests, *, wait: float = 0.0, expire_after: float | None = None
    ) -> DeferredToolResults | None:
        """The ``DeferredToolResults`` for a stopped run once every call is decided, else None.

        Submits every request (idempotently) and waits up to ``wait`` seconds. A request pending
        ``expire_after`` seconds (since foureyes received it) counts as expired.
        """
        asks = self._asks(requests)
        found = [
            await self.reviews.apeek(ask, wait=wait, expire_after=expire_after, known=True) for ask, _ in asks
        ]
        return self._complete(asks, found)

    def results(
        self, requests: DeferredToolRequests, *, wait: float = 0.0, expire_after: float | None = None
    ) -> DeferredToolResults | None:
        """`aresults` with a sync `HumanLayer` client."""
        asks = self._asks(requests)
        found = [self.reviews.peek(ask, wait=wait, expire_after=expire_after, known=True) for ask, _ in asks]
        return self._complete(asks, found)

    def _complete(
        self, asks: list[tuple[Ask, ToolCallPart]], found: list[Decision | None]
    ) -> DeferredToolResults | None:
        # Every request was submitted above, so a reviewer sees them all even while some wait.
        decided = [(ask, part, d) for (ask, part), d in zip(asks, found, strict=True) if d is not None]
        return self._results(decided) if len(decided) == len(asks) else None
