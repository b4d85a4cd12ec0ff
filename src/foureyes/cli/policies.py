"""``foureyes policies``: a project's rules (add, list, remove, apply a YAML file, test an
expression over recent requests), on the database directly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from foureyes.cli._common import (
    AsJson,
    DatabaseUrl,
    admin,
    err,
    fail,
    out,
    print_json,
    stamp,
    untrusted,
)

app = typer.Typer(
    help="Manage policies: rules that decide, route, escalate or raise the bar at create time.",
    no_args_is_help=True,
)

Project = Annotated[str, typer.Option(help="The project whose rules these are.")]


def _rule_json(rule: Any) -> dict[str, Any]:
    return {
        "position": rule.position,
        "name": rule.name,
        "when": rule.expression,
        "then": rule.action,
        "comment": rule.comment,
        "shadow": rule.shadow,
        "created_at": stamp(rule.created_at),
    }


def _table(rules: list[Any], title: str) -> Table:
    # Stacked and folded, never cut: an operator reads every rule's expression and action whole,
    # in 80 columns too (an escalate: action runs to hundreds of characters).
    table = Table(title=title, show_lines=True)
    table.add_column("#", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("when, then", overflow="fold", ratio=3)
    table.add_column("comment", overflow="fold", ratio=1)
    for rule in rules:
        name = untrusted(rule.name)
        if rule.shadow:
            name.append("\nshadow", style="yellow")
        name.append(f"\n{rule.created_at:%Y-%m-%d}", style="dim")  # the time is in --json
        table.add_row(
            str(rule.position),
            name,
            Text.assemble(untrusted(rule.expression), ("\n→ ", "dim"), rule.action),
            untrusted(rule.comment or ""),
        )
    return table


@app.command("add")
def policies_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A name unique in the project.")],
    when_: Annotated[
        str, typer.Option("--when", help="A CEL expression, e.g. 'fn == \"refund\" && args.amount < 100'.")
    ],
    then: Annotated[
        str,
        typer.Option(
            "--then",
            help=(
                "approve, reject, require:N, require:all_of(A,B) (any_of, M_of), require:N+all_of(A,B), "
                "route:TARGET[,TARGET] (email:ADDR, slack:ID, defaults ...) "
                "or escalate:DELAY>TARGET[,TARGET][;DELAY>TARGET...] (e.g. "
                "'escalate:30m>email:boss@example.com;2h>slack:C123': after 30 minutes without a "
                "decision email the boss, after 2 hours post in C123; instead of the project's chain)."
            ),
        ),
    ],
    project: Project = "default",
    comment: Annotated[str | None, typer.Option(help="What the agent is told (a reject's reason).")] = None,
    shadow: Annotated[bool, typer.Option("--shadow", help="Only record what it would have done.")] = False,
    position: Annotated[
        int | None, typer.Option(help="Where in the order (1 is first); default last.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a rule. The first rule that matches a new request acts; with none, a human decides."""
    with admin(database_url) as (service, _):
        rule = service.policies.add(
            project, name, when_, then, comment=comment, shadow=shadow, position=position
        )
    out.print(
        f"Added policy {rule.name!r} at position {rule.position} of project {project!r}.", highlight=False
    )


@app.command("list")
def policies_list(
    project: Project = "default", as_json: AsJson = False, database_url: DatabaseUrl = None
) -> None:
    """List the project's rules in the order they are evaluated."""
    with admin(database_url) as (service, _):
        rules = service.policies.list_policies(project)
    if as_json:
        print_json({"project": project, "policies": [_rule_json(rule) for rule in rules]})
        return
    out.print(_table(rules, f"Policies of {project} ({len(rules)})"))


@app.command("remove")
def policies_remove(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    project: Project = "default",
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a rule."""
    with admin(database_url) as (service, _):
        removed = service.policies.remove(project, name)
    if not removed:
        raise fail(f"project {project!r} has no policy named {name!r}")
    out.print(f"Removed policy {name!r}.", highlight=False)


def _read_rules(path: Path) -> list[dict[str, Any]]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise fail(f"cannot read {path}: {exc}") from None
    rules = loaded.get("policies") if isinstance(loaded, dict) else loaded
    if rules is None:
        return []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise fail(f"{path}: expected a list of rules (or a mapping with a 'policies' list)")
    return rules


@app.command("apply")
def policies_apply(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="YAML: the project's whole set of rules.")],
    project: Project = "default",
    database_url: DatabaseUrl = None,
) -> None:
    """Make the project's rules exactly those of FILE, at once; an invalid rule changes nothing."""
    rules = _read_rules(file)
    with admin(database_url) as (service, _):
        applied = service.policies.apply(project, rules)
    err.print(f"Applied {len(applied)} policies to project {project!r}.", highlight=False)
    out.print(_table(applied, f"Policies of {project} ({len(applied)})"))


@app.command("test")
def policies_test(
    expression: Annotated[str, typer.Argument(metavar="EXPR", help="A CEL expression.")],
    project: Project = "default",
    then: Annotated[
        str, typer.Option("--then", help="The action to show for a match (checked as for add).")
    ] = "match",
    last: Annotated[int, typer.Option(help="How many of the latest requests.")] = 20,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Show what EXPR would have decided over the project's latest requests (nothing changes)."""
    with admin(database_url) as (service, _):
        then = then if then == "match" else service.policies.action_text(then)
        trials = service.policies.test(project, expression, last=last)
    if as_json:
        requests = [
            {
                "call_id": t.item.call_id,
                "kind": t.item.kind,
                "request": t.item.spec.get("fn") or t.item.spec.get("msg"),
                "agent": t.agent,
                "matched": t.matched,
                "would": then if t.matched else None,
                "state": t.item.state,
            }
            for t in trials
        ]
        print_json({"project": project, "expression": expression, "requests": requests})
        return
    table = Table(title=f"{expression} over the last {len(trials)} requests of {project}")
    for column in ("call id", "request", "agent", "would", "was"):
        table.add_column(column)
    for trial in trials:
        spec = trial.item.spec
        what = spec.get("fn") or spec.get("msg") or ""
        table.add_row(
            untrusted(trial.item.call_id),
            untrusted(str(what)),
            untrusted(trial.agent or ""),
            then if trial.matched else "-",
            trial.item.state,
        )
    out.print(table)
    matched = sum(t.matched for t in trials)
    err.print(f"{matched} of {len(trials)} would match.", highlight=False)
