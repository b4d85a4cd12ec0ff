"""A webhook receiver that resumes an agent from the ``state`` it attached to its request.

A stateless agent creates a request with ``spec.state`` (here ``{"task": "<id>"}``) and exits;
no process waits. When a human decides, foureyes POSTs ``function_call.completed`` here. This
app verifies the signature with ``foureyes.webhooks.verify`` (401 on any doubt), drops repeats
by ``webhook-id`` (delivery is at-least-once), and continues the task named in ``state``.

Run it (Starlette and uvicorn come with ``pip install 'foureyes[server]'``)::

    WEBHOOK_SECRET=whsec_... .venv/bin/uvicorn --app-dir examples webhook_receiver:app --port 8080

and point an endpoint at it; a receiver on this machine needs private addresses allowed::

    FOUREYES_WEBHOOK_ALLOW_PRIVATE=true .venv/bin/foureyes serve
    .venv/bin/foureyes webhooks add http://127.0.0.1:8080/webhooks   # prints the secret last
    .venv/bin/foureyes webhooks test 1                                # sends an is_test event
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from foureyes.webhooks import WebhookVerificationError, verify

# The agent's unfinished work, keyed by the task id it put in spec.state. A real app keeps
# this in its database.
TASKS: dict[str, dict[str, Any]] = {"t-1": {"step": "waiting for approval to wire 500 USD"}}
SEEN: set[str] = set()


def resume(task_id: str, approved: bool | None, comment: str | None) -> str:
    task = TASKS.get(task_id)
    if task is None:
        return f"no task {task_id!r}; nothing to resume"
    if approved:
        task["step"] = "done"
        return f"task {task_id}: approved, carrying on"
    task["step"] = "stopped"
    return f"task {task_id}: rejected ({comment}); telling the user"


async def webhooks(request: Request) -> Response:
    body = await request.body()
    try:
        envelope = verify(body, request.headers, os.environ["WEBHOOK_SECRET"])
    except WebhookVerificationError as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    webhook_id = request.headers["webhook-id"]
    if webhook_id in SEEN:
        return Response(status_code=204)  # a retry of something already handled
    SEEN.add(webhook_id)
    event = envelope["event"]
    if envelope.get("is_test"):
        print("test event received:", envelope["type"])
    elif envelope["type"] == "function_call.completed":
        state = event["spec"].get("state") or {}
        status = event["status"]
        print(resume(str(state.get("task")), status.get("approved"), status.get("comment")))
    elif envelope["type"] == "human_contact.completed":
        state = event["spec"].get("state") or {}
        print(f"task {state.get('task')}: the human answered {event['status']['response']!r}")
    return Response(status_code=204)


app = Starlette(routes=[Route("/webhooks", webhooks, methods=["POST"])])
