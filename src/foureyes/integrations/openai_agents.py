"""foureyes for the OpenAI Agents SDK (``pip install foureyes[openai-agents]``).

A tool declared with ``@function_tool(needs_approval=True)`` pauses the run: the result carries
``interruptions`` (one ``ToolApprovalItem`` per call waiting) and the run continues once each is
approved or rejected on the run state. `AgentApprovals` finds the human for them::

    approvals = AgentApprovals(AsyncHumanLayer(api_key=...), timeout=3600)
    result = await approvals.run(agent, "Refund order 1042")   # waits for each decision

or, so that no process has to stay up while a human decides::

    paused = await approvals.start(agent, "Refund order 1042")   # RunResult, or Paused
    save(paused.state)                                            # JSON: keep it on your side
    ...                                                           # later, any process:
    outcome = await approvals.resume(agent, load())               # Paused again until decided

The tool call's ``call_id`` is the foureyes call id, so resuming asks nothing twice. Approved:
``state.approve(item)``. Rejected: ``state.reject(item, rejection_message=...)`` with the
reviewer's comment, which the model receives as the tool's output. Expired (``timeout`` in
``run``, ``expire_after`` in ``resume``): rejected with a message saying nobody decided. The SDK
cannot run a call with other arguments, so a reviewer's edit becomes a rejection that tells the
model the arguments the reviewer wants.

Keep the saved state where the agent's own code wrote it: the SDK warns that a run state holds
approvals and must not come from an untrusted party. Tested with openai-agents 0.24.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Unpack

from agents import Agent, Runner, RunResult, RunState, ToolApprovalItem

from foureyes._decision import Decision
from foureyes.integrations._reviews import Ask, Client, ReviewOptions, Reviews, refusal_text

logger = logging.getLogger("foureyes.integrations")

__all__ = ["AgentApprovals", "Paused", "apply_decision", "approval_ask"]


@dataclass(frozen=True)
class Paused:
    """A run waiting for humans. ``state`` is ``RunState.to_json()``: store it, then pass it to
    `AgentApprovals.resume`. ``call_ids`` are the foureyes items it waits on."""

    state: dict[str, Any]
    call_ids: list[str] = field(default_factory=list)


def _tool_name(item: ToolApprovalItem) -> str:
    return item.qualified_name or item.name or "tool"


def approval_ask(item: ToolApprovalItem, reviews: Reviews) -> Ask:
    """The foureyes request for one interruption: the tool, its arguments, its call id."""
    call_id = item.call_id
    if not call_id:
        raise ValueError(f"the approval for {_tool_name(item)} has no call_id to ask under")
    raw = item.arguments or "{}"
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = None
    # The reviewer sees exactly what will run; arguments that are not a JSON object are shown whole.
    kwargs = parsed if isinstance(parsed, dict) else {"arguments": raw}
    return reviews.approval(call_id, _tool_name(item), kwargs)


def apply_decision(state: RunState[Any, Any], item: ToolApprovalItem, decision: Decision) -> None:
    """Approve or reject ``item`` on ``state`` as ``decision`` says (see the module docstring)."""
    tool = _tool_name(item)
    if decision.approved and decision.edited_kwargs is None:
        state.approve(item)
    elif decision.approved:
        edited = json.dumps(decision.edited_kwargs)
        state.reject(
            item,
            rejection_message=f"A human reviewer approved {tool} only with these arguments: {edited}",
        )
    else:
        state.reject(item, rejection_message=refusal_text(tool, decision))


class AgentApprovals:
    """Runs OpenAI Agents SDK agents with foureyes deciding their ``needs_approval`` calls.

    ``options`` (`ReviewOptions`): ``timeout``, how long `run` waits for each decision before
    the call is rejected as expired (default: the client's ``timeout``; None waits forever),
    ``contact_channel`` and ``reject_options``. Extra keyword arguments of
    `run`, `start` and `resume` go to ``Runner.run`` (``run_config``, ``max_turns``, ...).
    """

    def __init__(self, client: Client, **options: Unpack[ReviewOptions]) -> None:
        self.reviews = Reviews(client, **options)

    async def run(self, agent: Agent[Any], input: Any, **runner: Any) -> RunResult:
        """Run to the end, waiting for a human at every interruption."""
        result = await Runner.run(agent, input, **runner)
        while result.interruptions:
            state = result.to_state()
            asks = [approval_ask(item, self.reviews) for item in result.interruptions]
            decisions = await self.reviews.adecide_all(asks)
            for item, decision in zip(result.interruptions, decisions, strict=True):
                apply_decision(state, item, decision)
            result = await Runner.run(agent, state, **runner)
        return result

    async def start(self, agent: Agent[Any], input: Any, **runner: Any) -> RunResult | Paused:
        """Run until the first interruption; submit every call waiting and return `Paused`."""
        return await self._settle(await Runner.run(agent, input, **runner))

    async def resume(
        self,
        agent: Agent[Any],
        state: dict[str, Any] | str,
        *,
        wait: float = 0.0,
        expire_after: float | None = None,
        **runner: Any,
    ) -> RunResult | Paused:
        """Continue a `Paused` run once every call it waits on is decided.

        Waits up to ``wait`` seconds for the decisions; while any is pending, returns `Paused`
        with the same state and changes nothing. A call pending ``expire_after`` seconds or
        more (since foureyes received it) is rejected as expired.
        """
        data = json.loads(state) if isinstance(state, str) else state
        run_state = await RunState.from_json(agent, data)
        waiting = run_state.get_interruptions()
        decisions: list[Decision] = []
        pending: list[str] = []
        for item in waiting:
            ask = approval_ask(item, self.reviews)
            decision = await self.reviews.apeek(ask, wait=wait, expire_after=expire_after, known=True)
            if decision is None:
                pending.append(ask.call_id)
            else:
                decisions.append(decision)
        if pending:
            return Paused(state=data, call_ids=pending)
        for item, decision in zip(waiting, decisions, strict=True):
            apply_decision(run_state, item, decision)
        return await self._settle(await Runner.run(agent, run_state, **runner))

    async def _settle(self, result: RunResult) -> RunResult | Paused:
        if not result.interruptions:
            return result
        call_ids = []
        for item in result.interruptions:
            ask = approval_ask(item, self.reviews)
            await self.reviews.apeek(ask)  # submitted now, so a human can decide while we are gone
            call_ids.append(ask.call_id)
        logger.info("run paused for %d approval(s): %s", len(call_ids), ", ".join(call_ids))
        return Paused(state=result.to_state().to_json(), call_ids=call_ids)
