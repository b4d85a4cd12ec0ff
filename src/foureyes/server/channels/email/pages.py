"""What an email link opens: ``GET /email/{token}`` shows the request and a form, and only the
form's ``POST /email/{token}`` decides, through ``service.decisions`` with channel ``email``,
attributed to the recipient the link was signed for.

Mail scanners open links, so a GET changes nothing. The token is the only credential (no
cookie), so another site cannot submit the form for the reader; the page is never cached and
sends no referrer, so the token does not leak from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from foureyes.server.channels.email.links import PURPOSE, BadLinkError, LinkClaim, LinkSigner
from foureyes.server.channels.email.sink import recipients_allowed
from foureyes.server.domain.errors import ConflictError, InvalidInputError, NotFoundError
from foureyes.server.domain.passkeys import step_up_message
from foureyes.server.domain.quorum import progress
from foureyes.server.people import DECIDING_ROLES
from foureyes.storage import ItemRecord
from foureyes.storage import events as event_log
from foureyes.storage import keys as key_rows

PREFIX = "/email"
# HTML pages for a mail recipient, not part of the JSON API (left out of /openapi.json).
router = APIRouter(include_in_schema=False)
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_env.globals["approval_progress"] = progress
HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def _page(status: int, **context: Any) -> HTMLResponse:
    context.setdefault("item", None)
    context.setdefault("problem", None)
    context.setdefault("done", None)
    context.setdefault("preselect", {})
    context.setdefault("recipient", "")
    html = _env.get_template("page.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


class RefusedError(Exception):
    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem


def _open(request: Request, token: str) -> tuple[Any, LinkClaim, ItemRecord]:
    service = request.app.state.service
    try:
        claim = LinkSigner(service.db.box.derive(PURPOSE)).verify(token, datetime.now(UTC))
    except (BadLinkError, ValueError, KeyError) as exc:
        raise RefusedError(
            400, str(exc) if isinstance(exc, BadLinkError) else "This link is not valid."
        ) from None
    try:
        item = service.items.get(claim.project_id, claim.kind, claim.call_id)
    except NotFoundError:
        raise RefusedError(404, "The request this link is for no longer exists.") from None
    with service.db.read() as conn:
        history = event_log.for_item(conn, item.id)
        project = key_rows.get_project(conn, item.project_id)
    if claim.recipient.lower() not in recipients_allowed(item, history):
        raise RefusedError(403, "This link was not sent to a recipient of this request.")
    if project is not None and project.email_deciders_members_only and not _member_decider(service, claim):
        raise RefusedError(
            403,
            f"In this project only its members may decide by email, and {claim.recipient} is not a "
            "reviewer or admin of it. Nothing was changed; ask a member to decide it in the inbox.",
        )
    return service, claim, item


def _member_decider(service: Any, claim: LinkClaim) -> bool:
    """Whether the recipient is a foureyes person with a deciding role in the project."""
    try:
        user = service.people.find_user(claim.recipient)
    except NotFoundError:
        return False
    return service.people.role_in(user.id, claim.project_id) in DECIDING_ROLES


def _closed(item: ItemRecord) -> str:
    if item.state == "expired":
        return "This request expired: nobody decided it before its deadline. This link no longer works."
    return "This request was already decided; this link no longer works."


@router.get(PREFIX + "/{token}", response_class=HTMLResponse)
def show(request: Request, token: str) -> HTMLResponse:
    try:
        _service, claim, item = _open(request, token)
    except RefusedError as refused:
        return _page(refused.status, problem=refused.problem)
    if item.completed_at is not None:
        return _page(409, item=item, problem=_closed(item))
    if item.step_up:
        # no form: an email link cannot carry the passkey assertion the decision needs
        return _page(403, item=item, problem=step_up_message(item.kind))
    query = request.query_params
    preselect = {
        "decision": "reject" if query.get("reject") == "true" else "approve",
        "option": query.get("option", ""),
    }
    return _page(200, item=item, token=token, recipient=claim.recipient, preselect=preselect)


@router.post(PREFIX + "/{token}", response_class=HTMLResponse)
def decide(
    request: Request,
    token: str,
    decision: Annotated[str, Form(max_length=16)] = "",
    comment: Annotated[str, Form(max_length=100_000)] = "",
    option: Annotated[str, Form(max_length=1_000)] = "",
) -> HTMLResponse:
    try:
        service, claim, item = _open(request, token)
    except RefusedError as refused:
        return _page(refused.status, problem=refused.problem)
    who = {"channel": "email", "actor_key_id": None, "actor_email": claim.recipient}
    try:
        if item.kind == "human_contact":
            done = service.decisions.answer_human_contact(
                claim.project_id, claim.call_id, response=comment, response_option_name=option or None, **who
            )
        elif decision in ("approve", "reject"):
            done = service.decisions.decide_function_call(
                claim.project_id,
                claim.call_id,
                approved=decision == "approve",
                comment=comment,
                reject_option_name=(option or None) if decision == "reject" else None,
                **who,
            )
        else:
            return _page(
                422, item=item, token=token, recipient=claim.recipient, problem="Choose approve or reject."
            )
    except ConflictError:
        now = service.items.get(claim.project_id, claim.kind, claim.call_id)
        return _page(409, item=now, problem=_closed(now))
    except InvalidInputError as exc:
        preselect = {"decision": decision, "option": option}
        return _page(
            422, item=item, token=token, recipient=claim.recipient, preselect=preselect, problem=str(exc)
        )
    # An approval of a request that needs several leaves it pending: what was recorded is yours.
    recorded = "your approval" if done.state == "pending" else done.state
    return _page(200, item=done, done=recorded, recipient=claim.recipient)
