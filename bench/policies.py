"""Create latency with and without policies: what 20 rules evaluated at create time cost.

Starts one real foureyes server (SQLite, in a temporary directory) with three projects: one
with no rules, one with 20 rules of which none matches (every rule is evaluated, then a human
decides: the worst case of a pending request), and one with the same 20 rules whose last one
approves (the request completes in its create transaction). Creates are sent one at a time
over a keep-alive connection, round-robin over the three projects, so the three are measured
side by side under the same load.

    .venv/bin/python bench/policies.py [--creates 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.conftest import LiveServer

RULES = 20


def _evaluation_us(rounds: int = 2000) -> float:
    """In-process: the median time to evaluate 20 non-matching rules against one request."""
    from datetime import UTC, datetime

    from foureyes.server.domain.rules import compile_expression, context, matches

    programs = [
        compile_expression(f'fn == "never_{n}" && args.amount > {n} && agent != "x"') for n in range(RULES)
    ]
    variables = {
        "fn": "refund",
        "args": {"amount": 5},
        "agent": "a",
        "run_id": "r",
        "project": "p",
        "kind": "x",
    }
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        converted = context({**variables, "now": datetime.now(UTC)})
        assert not any(matches(program, converted) for program in programs)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def _rules_yaml(path: Path, approve_last: bool) -> None:
    lines = ["policies:"]
    for n in range(RULES):
        last = approve_last and n == RULES - 1
        when = "true" if last else f'fn == "never_{n}" && args.amount > {n} && agent != "x"'
        lines.append(f"  - {{name: rule-{n}, when: '{when}', then: approve}}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=300, help="creates per project")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp))
        server.start()
        try:
            setups = {
                "0 rules": None,
                f"{RULES} rules, none matches": False,
                f"{RULES} rules, last approves": True,
            }
            clients: dict[str, httpx.Client] = {}
            for n, (label, approve_last) in enumerate(setups.items()):
                project = f"p{n}"
                if approve_last is not None:
                    rules = Path(tmp) / f"{project}.yaml"
                    _rules_yaml(rules, approve_last)
                    done = server.foureyes("policies", "apply", str(rules), "--project", project)
                    assert done.returncode == 0, done.stderr
                key = server.create_key("agent", project=project)
                clients[label] = httpx.Client(
                    base_url=server.api_base, headers={"Authorization": f"Bearer {key}"}
                )
            timings: dict[str, list[float]] = {label: [] for label in setups}
            for i in range(args.creates):
                for label, client in clients.items():
                    body = {
                        "run_id": "bench",
                        "call_id": f"c-{i}",
                        "spec": {"fn": "refund", "kwargs": {"amount": i}},
                    }
                    start = time.perf_counter()
                    answer = client.post("/function_calls", json=body)
                    timings[label].append(time.perf_counter() - start)
                    answer.raise_for_status()
                    approved = answer.json()["status"]["approved"]
                    assert approved is (True if setups[label] else None), (label, approved)
        finally:
            server.stop()
    print(f"create latency, {args.creates} creates per row, round-robin in one run")
    print(f"{'project':32} {'p50 ms':>8} {'p90 ms':>8}")
    for label, values in timings.items():
        values.sort()
        p90 = values[int(len(values) * 0.9)]
        print(f"{label:32} {statistics.median(values) * 1000:8.2f} {p90 * 1000:8.2f}")
    print(f"in-process, {RULES} rules evaluated against one request: median {_evaluation_us():.1f} us")


if __name__ == "__main__":
    main()
