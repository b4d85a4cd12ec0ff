"""What a notification says: the JSON the service worker (``inbox/static/sw.js``) shows.

Only what the reviewer sees in the inbox's pending list: the function (or "Question") and the
agent as the title, the arguments (or the question) shortened to one line as the body, and the
item page's path, which the service worker opens on a click. It travels encrypted end to end
(RFC 8291) and push services cap a message at 4 KiB, hence the short lines.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from foureyes._protocol import ItemKind
from foureyes.server.renderable import json_text
from foureyes.storage import ItemRecord

TITLE_MAX = 120
BODY_MAX = 240
# The inbox's item pages (server/inbox/items.py): /inbox/p/<project>/<kind path>/<call id>
KIND_PATHS: dict[str, str] = {
    ItemKind.FUNCTION_CALL: "function_calls",
    ItemKind.HUMAN_CONTACT: "human_contacts",
}


def _short(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def item_path(project_slug: str, item: ItemRecord) -> str:
    return f"/inbox/p/{project_slug}/{KIND_PATHS[item.kind]}/{quote(item.call_id, safe='/')}"


def notification(
    item: ItemRecord, *, project_slug: str, agent: str | None, escalated: bool
) -> dict[str, Any]:
    spec = item.spec
    who = agent or "an unknown agent"
    if item.kind == ItemKind.FUNCTION_CALL:
        title = f"{spec.get('fn', '')} · {who}"
        kwargs = spec.get("kwargs") or {}
        body = json_text(kwargs, separators=(", ", ": ")) if kwargs else "(no arguments)"
    else:
        title = f"Question · {who}"
        body = str(spec.get("subject") or spec.get("msg") or "")
    if escalated:
        title = "Escalated: " + title
    return {
        "title": _short(title, TITLE_MAX),
        "body": _short(body, BODY_MAX),
        # one notification per request: an escalation replaces the first one
        "tag": f"foureyes-{project_slug}-{item.id}",
        "data": {"url": item_path(project_slug, item)},
    }


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
