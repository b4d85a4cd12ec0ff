"""The reviewer commands: ``pending``, ``approve``, ``reject``, ``answer`` and ``watch``.

They talk to a running server over HTTP with a ``respond``-scoped key, through the same API and
service path as every other channel, so they need nothing of the server installed beyond what
the SDK needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.table import Table
from rich.text import Text

from foureyes._exceptions import APIError, TransportError, api_error_for
from foureyes.cli import review_many
from foureyes.cli._common import AsJson, configured_api_base, fail, out, print_json, untrusted

DEFAULT_API_BASE = "http://127.0.0.1:7444/humanlayer/v1"

ApiBase = Annotated[
    str | None,
    typer.Option(
        "--api-base",
        envvar=["FOUREYES_API_BASE", "HUMANLAYER_API_BASE"],
        help="Base URL of the server's HumanLayer-compatible API \\[default: from foureyes.toml "
        f"(public_url, else host and port), else {DEFAULT_API_BASE}].",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar=["FOUREYES_REVIEWER_KEY", "FOUREYES_API_KEY"],
        help="A key with the 'respond' scope (env FOUREYES_REVIEWER_KEY, then FOUREYES_API_KEY).",
        show_default=False,
    ),
]

_TO_ANSWER = "to answer a question, use: foureyes answer ID TEXT"
_TO_DECIDE = "approvals are decided with: foureyes approve ID / foureyes reject ID --comment TEXT"


class Reviewer:
    """A small HTTP client for the reviewer commands, speaking the same API as the SDK."""

    def __init__(self, api_base: str | None, api_key: str | None) -> None:
        if not api_key:
            raise fail(
                "no API key: pass --api-key or set FOUREYES_REVIEWER_KEY to a key with the 'respond' "
                "scope (create one with: foureyes keys create --scopes respond)"
            )
        self.api_base = (api_base or configured_api_base(DEFAULT_API_BASE)).rstrip("/")
        self.http = httpx.Client(headers={"Authorization": f"Bearer {api_key}"}, timeout=30)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.api_base}{path}"
        try:
            response = self.http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach the foureyes server at {self.api_base}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise api_error_for(
                response.status_code,
                str(error.get("code", "http_error")),
                str(error.get("message", response.text[:200])),
                data,
            )
        if not isinstance(data, dict):
            raise TransportError(f"{url} answered with something that is not a JSON object")
        return data


def _run(fn: Callable[[], None], not_found_hint: str = "") -> None:
    """Run a reviewer action; the SDK's errors become one red line (with a hint for a 404)."""
    try:
        fn()
    except APIError as exc:
        hint = f" ({not_found_hint})" if exc.status_code == 404 and not_found_hint else ""
        raise fail(f"{exc.message}{hint}") from None
    except TransportError as exc:
        raise fail(str(exc)) from None


def describe_call(spec: dict[str, Any]) -> Text:
    """A function call as a reviewer reads it: name, every argument as JSON, the reject options."""
    body = untrusted(f"{spec['fn']}({json.dumps(spec['kwargs'], indent=2, ensure_ascii=False)})")
    return _with_options(body, "reject options", spec.get("reject_options"))


def describe_question(spec: dict[str, Any]) -> Text:
    body = untrusted(f"[{spec['subject']}] {spec['msg']}" if spec.get("subject") else spec["msg"])
    return _with_options(body, "options", spec.get("response_options"))


def _with_options(body: Text, label: str, options: list[dict[str, Any]] | None) -> Text:
    if options:
        body.append_text(Text(f"\n{label}: ", style="dim"))
        body.append_text(untrusted(", ".join(o["name"] for o in options)))
    return body


def _table(
    title: str, what: str, items: list[dict[str, Any]], describe: Callable[[dict[str, Any]], Text]
) -> Table:
    table = Table(title=f"{title} ({len(items)})", show_lines=True)
    # A call id is copied into the next command: it never wraps. The run and the age go under
    # it, so that in 80 columns the description keeps the rest of the width.
    table.add_column("call id, run, requested", no_wrap=True, overflow="fold")
    table.add_column(what, overflow="fold")
    for item in items:
        described = describe(item["spec"])
        progress = approval_progress(item.get("status") or {})
        if progress:
            described.append_text(Text(f"\n{progress}", style="yellow"))
        run = untrusted(item["run_id"])
        run.stylize("dim")
        where = Text.assemble(untrusted(item["call_id"]), "\n", run, (f"\n{_age(item)}", "dim"))
        table.add_row(where, described)
    return table


def approval_progress(status: dict[str, Any]) -> str | None:
    """'1 of 2 approvals (alice@example.com); 1 more needed' for a request needing several."""
    required = status.get("required_approvals")
    if not isinstance(required, int) or (required < 2 and not status.get("required_approvers")):
        return None
    approvals = status.get("approvals") or []
    who = ", ".join(str(a.get("email") or a.get("name") or "?") for a in approvals)
    text = f"{len(approvals)} of {required} approvals" + (f" ({who})" if who else "")
    needed = status.get("approvals_needed") or {}
    if status.get("approved") is None and status.get("required_approvers") and needed.get("text"):
        text += f"; still needs {needed['text']}"  # the server's words for the groups still needed
    elif status.get("approved") is None:
        text += f"; {max(required - len(approvals), 0)} more needed from other people"
    return text


def _age(item: dict[str, Any]) -> str:
    """How long ago the item was requested, e.g. '42s ago', '3m ago', '2h ago'."""
    stamp = (item.get("status") or {}).get("requested_at")
    if not stamp:
        return ""
    seconds = max(0, int((datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _path_id(call_id: str) -> str:
    return quote(call_id, safe="")


def pending(as_json: AsJson = False, api_base: ApiBase = None, api_key: ApiKey = None) -> None:
    """List the approvals and questions waiting for a human."""
    reviewer = Reviewer(api_base, api_key)

    def go() -> None:
        calls = reviewer.request("GET", "/agent/function_calls/pending")["items"]
        contacts = reviewer.request("GET", "/agent/human_contacts/pending")["items"]
        if as_json:
            # The objects exactly as the API gives them: their fields are the protocol's.
            print_json({"function_calls": calls, "human_contacts": contacts})
            return
        if not calls and not contacts:
            out.print("Nothing is waiting for a decision.")
            return
        if calls:
            out.print(_table("Approvals waiting", "function and arguments", calls, describe_call))
        if contacts:
            out.print(_table("Questions waiting", "question", contacts, describe_question))

    _run(go)


def json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise fail(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise fail(f"{what} must be a JSON object of the arguments by name")
    return value


def _respond(reviewer: Reviewer, kind: str, call_id: str, body: dict[str, Any], done: str) -> None:
    answer = reviewer.request("POST", f"/agent/{kind}/{_path_id(call_id)}/respond", body)
    progress = approval_progress(answer.get("status") or {})
    out.print(Text.assemble(f"{done} ", untrusted(call_id), "." if progress is None else f": {progress}."))


CallIds = Annotated[
    list[str] | None,
    typer.Argument(metavar="CALL_ID...", help="The call ids of the function calls.", show_default=False),
]
AllPending = Annotated[
    bool, typer.Option("--all-pending", help="Every pending function call of --project (asks first).")
]
Project = Annotated[
    str | None, typer.Option(help="With --all-pending: the project (slug) the key belongs to.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="With --all-pending: do not ask.")]


def _targets(
    reviewer: Reviewer, call_ids: list[str] | None, every: bool, project: str | None, verb: str, yes: bool
) -> list[str]:
    """The call ids to decide: those given, or (``--all-pending``) every pending one, confirmed."""
    if every == bool(call_ids):
        raise fail("give one or more CALL_IDs, or --all-pending --project SLUG")
    if call_ids:
        return call_ids
    found: list[dict[str, Any]] = []

    def listing() -> None:
        found.extend(review_many.all_pending(reviewer.request, project))

    _run(listing)
    review_many.confirm_all(found, verb, project or "", yes)
    return [item["call_id"] for item in found]


def approve(
    call_ids: CallIds = None,
    comment: Annotated[str | None, typer.Option(help="A note for the agent.")] = None,
    args: Annotated[
        str | None,
        typer.Option(
            "--args",
            metavar="JSON",
            help="Approve these arguments instead (a JSON object), where the request allows edits "
            "(one CALL_ID only).",
        ),
    ] = None,
    every: AllPending = False,
    project: Project = None,
    yes: Yes = False,
    api_base: ApiBase = None,
    api_key: ApiKey = None,
) -> None:
    """Approve function calls: the agents run them (with --args: with the arguments you give).
    Several CALL_IDs, or --all-pending, are decided in one request per 500; exit 1 if any was skipped."""
    reviewer = Reviewer(api_base, api_key)
    ids = _targets(reviewer, call_ids, every, project, "Approve", yes)
    body: dict[str, Any] = {"approved": True, "comment": comment}
    if args is not None:
        if len(ids) != 1 or every:
            raise fail("--args edits one call: give exactly one CALL_ID")
        body["edited_kwargs"] = json_object(args, "--args")
    _decide(reviewer, ids, every, body, "Approved")


def reject(
    call_ids: CallIds = None,
    comment: Annotated[
        str | None,
        typer.Option(help="Why: this is handed back to the agent (optional with --option)."),
    ] = None,
    option: Annotated[
        str | None,
        typer.Option(help="The name of one of the request's reject options (its text tells the agent why)."),
    ] = None,
    every: AllPending = False,
    project: Project = None,
    yes: Yes = False,
    api_base: ApiBase = None,
    api_key: ApiKey = None,
) -> None:
    """Reject function calls, telling the agents why: a comment, a reject option, or both
    (several, or --all-pending, as for approve)."""
    if not (comment or "").strip() and option is None:
        raise fail("a rejection tells the agent why: pass --comment TEXT, or --option NAME, or both")
    reviewer = Reviewer(api_base, api_key)
    ids = _targets(reviewer, call_ids, every, project, "Reject", yes)
    body = {"approved": False, "comment": comment, "reject_option_name": option}
    _decide(reviewer, ids, every, body, "Rejected")


def _decide(reviewer: Reviewer, ids: list[str], every: bool, body: dict[str, Any], done: str) -> None:
    if len(ids) == 1 and not every:
        _run(lambda: _respond(reviewer, "function_calls", ids[0], body, done), _TO_ANSWER)
    else:
        _run(lambda: review_many.decide_many(reviewer.request, ids, body, done))


def answer(
    call_id: Annotated[str, typer.Argument(metavar="CALL_ID", help="The call id of the question.")],
    text: Annotated[
        str | None, typer.Argument(metavar="TEXT", help="The answer (optional when --option is given).")
    ] = None,
    option: Annotated[str | None, typer.Option(help="The name of one of the question's options.")] = None,
    api_base: ApiBase = None,
    api_key: ApiKey = None,
) -> None:
    """Answer a question an agent asked."""
    if text is None and option is None:
        raise fail("give the answer text, or --option NAME, or both")
    reviewer = Reviewer(api_base, api_key)
    body = {"response": text, "response_option_name": option}
    _run(lambda: _respond(reviewer, "human_contacts", call_id, body, "Answered"), _TO_DECIDE)


def watch(api_base: ApiBase = None, api_key: ApiKey = None) -> None:
    """A live inbox in the terminal: see requests as they arrive and decide them by keyboard."""
    # The terminal inbox (termios, Rich Live) is loaded only by the command that uses it.
    from foureyes import watch as inbox

    reviewer = Reviewer(api_base, api_key)
    _run(lambda: inbox.run(reviewer.request, untrusted, out))
