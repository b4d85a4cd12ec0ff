"""The part every adapter shares: asking under the framework's call id, against a real server."""

from __future__ import annotations

import httpx
import pytest

from foureyes import ConfigurationError, FoureyesError, HumanLayer
from foureyes.integrations import Ask, Reviews, refusal_text

from .conftest import Reviewer, Server


def fresh_client(server: Server, **kwargs: object) -> HumanLayer:
    return HumanLayer(api_key=server.key("agent"), api_base_url=server.api_base, **kwargs)  # type: ignore[arg-type]


def test_a_decision_is_found_again_by_another_process(server: Server, reviewer: Reviewer) -> None:
    ask = Ask.approval("rv-again", "wire", {"amount": 3})
    assert Reviews(fresh_client(server)).peek(ask) is None
    reviewer.respond("rv-again", approved=False, comment="no")
    # Another client has another run id: the create conflicts, and the item is read instead.
    decision = Reviews(fresh_client(server), timeout=5).decide(ask)
    assert (decision.rejected, decision.comment, decision.call_id) == (True, "no", "rv-again")
    assert len(reviewer.pending()) == 0


def test_a_reused_call_id_with_other_arguments_never_decides(server: Server, reviewer: Reviewer) -> None:
    Reviews(fresh_client(server)).peek(Ask.approval("rv-reused", "wire", {"amount": 3}))
    reviewer.respond("rv-reused", approved=True)
    other = Ask.approval("rv-reused", "wire", {"amount": 3000})
    with pytest.raises(FoureyesError, match="asks something else"):
        Reviews(fresh_client(server), timeout=5).decide(other)
    with pytest.raises(FoureyesError, match="asks something else"):
        Reviews(fresh_client(server)).peek(other, known=True)


class Flaky(httpx.BaseTransport):
    """Refuses the first ``failures`` requests, then forwards to the real server."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.failures -= 1
            raise httpx.ConnectError("refused", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_transient_failures_are_retried_within_the_deadline(server: Server, reviewer: Reviewer) -> None:
    flaky = Flaky(failures=2)
    decided = reviewer.decide_next({"approved": True})
    with fresh_client(server, transport=flaky) as client:
        decision = Reviews(client, timeout=30).decide(Ask.approval("rv-flaky", "wire", {"amount": 1}))
    decided.result(timeout=30)
    assert decision.approved
    assert flaky.failures == 0


def test_an_unreachable_server_is_an_error_not_a_decision() -> None:
    client = HumanLayer(api_key="fe_x", api_base_url="http://127.0.0.1:9/humanlayer/v1")
    with pytest.raises(FoureyesError, match="could not be reached"):
        Reviews(client, timeout=0.5).decide(Ask.approval("rv-down", "wire", {}))


def test_a_question_is_answered(server: Server, reviewer: Reviewer) -> None:
    answered = reviewer.answer_next("blue")
    decision = Reviews(fresh_client(server), timeout=30).decide(Ask.question("rv-q", "Which colour?"))
    answered.result(timeout=30)
    assert (decision.answered, decision.answer) == (True, "blue")


def test_adapters_need_a_server() -> None:
    with pytest.raises(ConfigurationError, match="foureyes server"):
        Reviews(HumanLayer.cli())


def test_refusal_texts() -> None:
    from foureyes import Decision, DecisionOutcome

    rejected = Decision(outcome=DecisionOutcome.REJECTED, call_id="c", comment="too big")
    assert refusal_text("wire", rejected) == "too big"
    optioned = Decision(outcome=DecisionOutcome.REJECTED, call_id="c", option="limit")
    assert refusal_text("wire", optioned) == "A human reviewer rejected wire (limit); it was not run."
    expired = Decision.timed_out("c", "no human decided within 5 s")
    assert (
        refusal_text("wire", expired)
        == "No human approved wire in time (no human decided within 5 s); it was not run."
    )


def test_the_package_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, foureyes.integrations; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('agents', 'langchain', 'langchain_core',"
        " 'langgraph', 'pydantic_ai')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
