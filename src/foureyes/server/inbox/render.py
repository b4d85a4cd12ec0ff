"""The Jinja2 environment: autoescaping on for every template, whatever its name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from foureyes.server.api._common import service_of
from foureyes.server.domain.quorum import progress
from foureyes.server.inbox import views

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals.update(
    when=views.when,
    who=views.who,
    headline=views.headline,
    options=views.options,
    preview=views.preview,
    verdict_label=views.verdict_label,
    channel_words=views.channel_words,
    age=views.age,
    deadline=views.deadline,
    approval_progress=progress,
)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("reviewer", None)
    context.setdefault("message", None)
    context.setdefault("done", None)
    # What "now" is for the page's times; the page's script counts on from it.
    context.setdefault("now", service_of(request).now())
    context.setdefault("title", "foureyes")
    html = environment.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code)
