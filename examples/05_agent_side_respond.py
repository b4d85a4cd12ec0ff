"""Agent-side respond: a policy bot decides the easy requests, a human decides the rest.

The agent asks for two refunds. A bot holding a reviewer key approves the small one at once
through `respond_to_function_call`; the large one waits for a human (`foureyes approve ...`).

    FOUREYES_API_KEY=<agent key> FOUREYES_REVIEWER_KEY=<reviewer key> \\
        .venv/bin/python examples/05_agent_side_respond.py
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

from foureyes import FunctionCallSpec, FunctionCallStatus, HumanLayer

AUTO_APPROVE_BELOW = 100


def refund(order_id: str, amount: int) -> str:
    return f"refunded {amount} on {order_id}"


def main() -> None:
    reviewer_key = os.environ.get("FOUREYES_REVIEWER_KEY")
    if not reviewer_key:
        sys.exit("set FOUREYES_REVIEWER_KEY to a key with the 'respond' scope")
    agent = HumanLayer(agent_name="refund-agent")
    bot = HumanLayer(api_key=reviewer_key, agent_name="refund-policy-bot")

    requests = [{"order_id": "A-17", "amount": 20}, {"order_id": "B-42", "amount": 5000}]
    calls = [agent.create_function_call(FunctionCallSpec(fn="refund", kwargs=kwargs)) for kwargs in requests]
    for created in calls:
        if created.spec.kwargs["amount"] < AUTO_APPROVE_BELOW:
            bot.respond_to_function_call(
                created.call_id, FunctionCallStatus(approved=True, comment="under the auto-approve limit")
            )
            print(f"bot approved {created.call_id} ({created.spec.kwargs})")
        else:
            print(
                f"{created.call_id} ({created.spec.kwargs}) waits for a human: "
                f"foureyes approve {created.call_id}"
            )

    def wait_and_run(call_id: str) -> str:
        while True:
            current = agent.get_function_call(call_id, wait=25)
            if current.status and current.status.approved is not None:
                break
        if current.status.approved:
            return refund(**current.spec.kwargs)
        return f"refund {current.spec.kwargs['order_id']} rejected: {current.status.comment}"

    with ThreadPoolExecutor() as pool:
        for outcome in pool.map(wait_and_run, [c.call_id for c in calls]):
            print(outcome)


if __name__ == "__main__":
    main()
