"""``foureyes policies``: add, list, test, apply (a YAML file, atomically) and remove, on the
database directly, as an operator runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from foureyes.cli import app as cli
from foureyes.server.service import Service

from .conftest import Caller


def _run(database_url: str, *args: str, columns: int = 250) -> Any:
    return CliRunner().invoke(
        cli, ["policies", *args, "--database-url", database_url], env={"COLUMNS": str(columns)}
    )


def test_the_policies_commands(
    database_url: str, service: Service, agent: Caller, make_function_call: Any, tmp_path: Path
) -> None:
    agent.post("/function_calls", make_function_call("big", kwargs={"amount": 5000}))
    agent.post("/function_calls", make_function_call("small", kwargs={"amount": 5}))

    added = _run(database_url, "add", "small", "--when", "args.amount < 100", "--then", "approve")
    assert added.exit_code == 0, added.output
    bad = _run(database_url, "add", "broken", "--when", "args.amount <", "--then", "approve")
    assert bad.exit_code == 1
    assert "line 1, column 14" in bad.output

    listed = _run(database_url, "list")
    assert "small" in listed.output
    assert "args.amount < 100" in listed.output

    tried = _run(database_url, "test", "args.amount > 1000", "--then", "reject", "--last", "5")
    assert tried.exit_code == 0, tried.output
    assert "1 of 2 would match" in tried.output
    (big_row,) = [line for line in tried.output.splitlines() if "big" in line]
    assert "reject" in big_row

    broken_file = tmp_path / "broken.yaml"
    broken_file.write_text(
        "policies:\n"
        "  - {name: ok, when: 'true', then: approve}\n"
        "  - {name: bad, when: 'args.(', then: approve}\n"
    )
    refused = _run(database_url, "apply", str(broken_file))
    assert refused.exit_code == 1
    assert "policy 'bad'" in refused.output
    assert [p.name for p in service.policies.list_policies("default")] == ["small"]

    good_file = tmp_path / "policies.yaml"
    good_file.write_text(
        "policies:\n"
        "  - name: no-deletes\n"
        "    when: fn.startsWith('delete_')\n"
        "    then: reject\n"
        "    comment: deletes need a ticket\n"
        "  - {name: watch, when: 'true', then: approve, shadow: true}\n"
    )
    applied = _run(database_url, "apply", str(good_file))
    assert applied.exit_code == 0, applied.output
    rules = service.policies.list_policies("default")
    assert [(p.name, p.action, p.shadow) for p in rules] == [
        ("no-deletes", "reject", False),
        ("watch", "approve", True),
    ]

    assert _run(database_url, "remove", "watch").exit_code == 0
    assert _run(database_url, "remove", "watch").exit_code == 1
    assert [p.name for p in service.policies.list_policies("default")] == ["no-deletes"]


def test_an_escalate_rule_from_the_cli_and_a_file(
    database_url: str, service: Service, agent: Caller, make_function_call: Any, tmp_path: Path
) -> None:
    agent.post("/function_calls", make_function_call("big", kwargs={"amount": 5000}))
    then = "escalate:2h>slack:C123;30m>email:boss@example.com"
    added = _run(database_url, "add", "chase", "--when", "args.amount > 1000", "--then", then)
    assert added.exit_code == 0, added.output
    [rule] = service.policies.list_policies("default")
    assert rule.action == "escalate:30m>email:boss@example.com;2h>slack:C123"

    # In 80 columns the list folds the action but shows it whole.
    listed = _run(database_url, "list", columns=80)
    assert listed.exit_code == 0, listed.output
    assert max(map(len, listed.output.splitlines())) <= 80
    cells = "".join(line.split("│")[3].strip() for line in listed.output.splitlines() if line.count("│") == 5)
    assert "→escalate:30m>email:boss@example.com;2h>slack:C123" in cells.replace(" ", ""), listed.output

    refused = _run(database_url, "add", "bad", "--when", "true", "--then", "escalate:30m>pager")
    assert refused.exit_code == 1
    assert "escalate step 1 ('30m>pager'): unknown route target 'pager'" in refused.output

    tried = _run(database_url, "test", "args.amount > 1000", "--then", then)
    assert tried.exit_code == 0, tried.output
    (big_row,) = [line for line in tried.output.splitlines() if "big" in line]
    assert "escalate:30m>email:boss@example.com;2h>slack:C123" in big_row
    bad_test = _run(database_url, "test", "true", "--then", "escalate:soon>email")
    assert bad_test.exit_code == 1
    assert "'soon' is not a duration" in bad_test.output

    rules = tmp_path / "policies.yaml"
    rules.write_text(
        "policies:\n"
        "  - name: chase\n"
        "    when: args.amount > 1000\n"
        "    then: escalate:1h>email:cfo@example.com\n"
        "  - {name: broken, when: 'true', then: 'escalate:1h>email:nobody'}\n"
    )
    assert _run(database_url, "apply", str(rules)).exit_code == 1
    rules.write_text(rules.read_text().split("  - {name: broken")[0])
    applied = _run(database_url, "apply", str(rules))
    assert applied.exit_code == 0, applied.output
    assert [p.action for p in service.policies.list_policies("default")] == [
        "escalate:1h>email:cfo@example.com"
    ]
