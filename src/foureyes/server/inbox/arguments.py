"""A function call's arguments rendered for people, as HTML built here.

This is the one place in the inbox that builds HTML in Python, so it follows one rule: every
piece of text that came from the agent goes through ``markupsafe.escape`` and nothing else adds
markup around it but the fixed tags below. What a reviewer gets:

- JSON pretty-printed, each token in a ``<span>`` whose class says what it is (``k`` key, ``s``
  string, ``n`` number, ``b`` true/false, ``z`` null, ``p`` punctuation), coloured by the CSS;
- a string of several lines shown as text with its line breaks (``white-space: pre-wrap``), not
  as one line of ``\\n`` escapes; control and bidirectional-override characters shown as
  visible escapes, so what is shown is what the agent sent;
- a long string folded behind ``<details>`` (its first line as the summary), complete inside;
  a long array or object folded as a whole;
- URLs and e-mail addresses marked visibly as the agent's, and never links: a reviewer must
  not be one click from a page the agent chose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from foureyes.server.renderable import json_text, renderable

FOLD_CHARACTERS = 240
FOLD_LINES = 10
# An array or object of more pretty-printed lines than this is folded as a whole.
FOLD_BLOCK_LINES = 30
SUMMARY_CHARACTERS = 80
# Deeper than this, a value is shown as compact JSON text (still escaped and marked).
MAX_COLOURED_DEPTH = 40
INDENT = "  "

_SUPPLIED = re.compile(
    r"(?P<url>\b(?:https?|ftp|file|javascript|data|mailto):[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+)"
    r"|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
    re.IGNORECASE,
)
# Shown as escapes: C0/C1 controls but newline and tab, and the characters that reorder or hide
# text (bidirectional overrides and isolates, zero-width characters).
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class Argument:
    key: str
    html: Markup
    folded: bool
    summary: Markup


def _span(cls: str, text: str | Markup) -> Markup:
    return Markup('<span class="{}">{}</span>').format(cls, text)


def _visible(text: str) -> Markup:
    """``text`` escaped, with hidden characters as ``\\uXXXX`` escapes in their own span."""
    parts: list[Markup] = []
    at = 0
    for found in _HIDDEN.finditer(text):
        parts.append(escape(text[at : found.start()]))
        parts.append(_span("esc", f"\\u{ord(found.group()):04x}"))
        at = found.end()
    parts.append(escape(text[at:]))
    return Markup("").join(parts)


def marked_text(text: str) -> Markup:
    """Agent text, escaped, with its URLs and e-mail addresses marked as the agent's."""
    parts: list[Markup] = []
    at = 0
    for found in _SUPPLIED.finditer(text):
        parts.append(_visible(text[at : found.start()]))
        what = "link" if found.group("url") else "address"
        parts.append(
            Markup(
                '<span class="supplied" title="written by the agent: not a link, check it before'
                ' you trust it"><span class="tag">agent {}</span>{}</span>'
            ).format(what, _visible(found.group()))
        )
        at = found.end()
    parts.append(_visible(text[at:]))
    return Markup("").join(parts)


def _long(text: str) -> bool:
    return len(text) > FOLD_CHARACTERS or text.count("\n") >= FOLD_LINES


def _summary(text: str) -> Markup:
    first = text.split("\n", 1)[0][:SUMMARY_CHARACTERS]
    lines = text.count("\n") + 1
    size = f"{len(text)} characters" + (f", {lines} lines" if lines > 1 else "")
    return Markup("{}… {}").format(marked_text(first), _span("hint", f"({size}: open to read all)"))


def _string(text: str) -> Markup:
    quoted = Markup("{}{}{}").format(_span("p", '"'), marked_text(text), _span("p", '"'))
    cls = "s ml" if "\n" in text else "s"
    body = _span(cls, quoted)
    if not _long(text):
        return body
    return Markup('<details class="fold"><summary>{}</summary>{}</details>').format(_summary(text), body)


def _leaf(value: Any) -> Markup:
    if value is None:
        return _span("z", "null")
    if isinstance(value, bool):
        return _span("b", "true" if value else "false")
    if isinstance(value, int | float):
        return _span("n", json.dumps(value))
    if isinstance(value, str):
        return _string(value)
    # Not JSON (cannot come from storage): its text, escaped.
    return _string(str(value))


def _value(value: Any, depth: int) -> Markup:
    if isinstance(value, dict | list) and depth >= MAX_COLOURED_DEPTH:
        return _string(json_text(value))
    if isinstance(value, dict):
        if not value:
            return _span("p", "{}")
        pad = INDENT * (depth + 1)
        members = [
            Markup("{}{}{} {}").format(pad, _string_key(str(k)), _span("p", ":"), _value(v, depth + 1))
            for k, v in value.items()
        ]
        return _block("{", "}", members, depth)
    if isinstance(value, list):
        if not value:
            return _span("p", "[]")
        pad = INDENT * (depth + 1)
        return _block("[", "]", [Markup("{}{}").format(pad, _value(v, depth + 1)) for v in value], depth)
    return _leaf(value)


def _string_key(key: str) -> Markup:
    return _span("k", Markup('"{}"').format(marked_text(key)))


def _block(opening: str, closing: str, members: list[Markup], depth: int) -> Markup:
    separator = Markup("{}\n").format(_span("p", ","))
    inner = separator.join(members)
    return Markup("{}\n{}\n{}{}").format(_span("p", opening), inner, INDENT * depth, _span("p", closing))


def render_value(value: Any) -> Markup:
    """One value as coloured, escaped JSON (a string of several lines as text, quoted)."""
    return _value(renderable(value), 0)


def _block_summary(value: Any) -> Markup:
    if isinstance(value, dict):
        names = ", ".join(str(k) for k in list(value)[:6])
        what = f"object of {len(value)} members: {names}{'…' if len(value) > 6 else ''}"
    else:
        what = f"array of {len(value)} items"
    hint = _span("hint", "(open to read all)")
    return Markup("{} {}").format(marked_text(what[: SUMMARY_CHARACTERS * 2]), hint)


def arguments(kwargs: dict[str, Any]) -> list[Argument]:
    """Every argument rendered; a long array or object folded whole, long strings on their own."""
    found = []
    for key, value in renderable(kwargs).items():
        html = render_value(value)
        lines = len(json_text(value, indent=2).splitlines()) if isinstance(value, dict | list) else 0
        big = lines > FOLD_BLOCK_LINES
        summary = _block_summary(value) if big else Markup("")
        found.append(Argument(str(key), html, big, summary))
    return found
