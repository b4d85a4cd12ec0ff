"""The argument renderer: coloured, escaped JSON; text shown as text; long values folded; the
agent's URLs and addresses marked and never links; every XSS payload stays text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest

from foureyes.server.inbox.arguments import (
    FOLD_BLOCK_LINES,
    FOLD_CHARACTERS,
    FOLD_LINES,
    MAX_COLOURED_DEPTH,
    arguments,
    marked_text,
    render_value,
)
from foureyes.server.renderable import PLACEHOLDER

from ..xss_payloads import PAYLOADS

ALLOWED_TAGS = {"span", "details", "summary"}


class Parsed(HTMLParser):
    """The rendered HTML's elements and its text, with the renderer's own marks left out."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in_tag = 0
        self._in_hint = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if found.get("class") == "tag" or self._in_tag:
            self._in_tag += 1
        if found.get("class") == "hint" or self._in_hint:
            self._in_hint += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_tag = max(0, self._in_tag - 1)
        self._in_hint = max(0, self._in_hint - 1)

    def handle_data(self, data: str) -> None:
        if not self._in_tag and not self._in_hint:
            self.text.append(data)

    @property
    def shown(self) -> str:
        return "".join(self.text)

    def classes(self) -> list[str]:
        return [str(a.get("class")) for _, a in self.tags]


def only_safe_markup(parsed: Parsed) -> None:
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= {"class", "title"}, attrs


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_xss_payload_stays_text(payload: str) -> None:
    html = str(render_value({payload: [payload, {"k": payload}]}))
    parsed = Parsed(html)
    only_safe_markup(parsed)
    assert parsed.shown.count(payload) == 3
    # What comes out is the payload's text: the parser found no element the payload wrote.
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()


def test_json_is_pretty_printed_with_a_class_per_token() -> None:
    html = str(render_value({"a": [1, 2.5, None, True, False], "b": {}, "c": []}))
    parsed = Parsed(html)
    assert parsed.shown == (
        '{\n  "a": [\n    1,\n    2.5,\n    null,\n    true,\n    false\n  ],\n  "b": {},\n  "c": []\n}'
    )
    classes = parsed.classes()
    assert classes.count("k") == 3
    assert classes.count("n") == 2
    assert classes.count("z") == 1
    assert classes.count("b") == 2


def test_text_of_several_lines_is_shown_as_text() -> None:
    html = str(render_value("Dear Ana,\n\nthe invoice is attached.\n\tRegards"))
    parsed = Parsed(html)
    assert parsed.shown == '"Dear Ana,\n\nthe invoice is attached.\n\tRegards"'
    assert "s ml" in parsed.classes()
    assert "\\n" not in html


def test_hidden_characters_are_shown_as_escapes() -> None:
    shown = Parsed(str(render_value("pay\u202eusd 10\u200b\x00"))).shown
    assert shown == '"pay\\u202eusd 10\\u200b\\u0000"'


def test_long_strings_are_folded_and_complete() -> None:
    long = "word " * 100
    html = str(render_value({"short": "hi", "long": long}))
    parsed = Parsed(html)
    assert [t for t, _ in parsed.tags].count("details") == 1
    assert long in parsed.shown  # folded, never cut
    assert "details" not in str(render_value("x" * FOLD_CHARACTERS))
    assert "details" in str(render_value("x" * (FOLD_CHARACTERS + 1)))
    assert "details" not in str(render_value("\n".join(["line"] * (FOLD_LINES))))
    assert "details" in str(render_value("\n".join(["line"] * (FOLD_LINES + 1))))


def test_a_long_array_or_object_is_folded_whole_with_a_summary() -> None:
    found = arguments({"rows": list(range(FOLD_BLOCK_LINES + 5)), "small": [1, 2], "to": "x"})
    by_key = {a.key: a for a in found}
    assert by_key["rows"].folded
    assert "array of 35 items" in Parsed(str(by_key["rows"].summary)).shown
    assert not by_key["small"].folded
    assert not by_key["to"].folded


@pytest.mark.parametrize(
    ("text", "marked", "what"),
    [
        ("see https://evil.example/pay?to=me now", "https://evil.example/pay?to=me", "link"),
        ("www.example.com/login", "www.example.com/login", "link"),
        ("javascript:alert(1)", "javascript:alert(1)", "link"),
        ("mailto:boss@example.com", "mailto:boss@example.com", "link"),
        ("write to boss@example.com today", "boss@example.com", "address"),
    ],
)
def test_urls_and_addresses_are_marked_as_the_agents_and_never_links(
    text: str, marked: str, what: str
) -> None:
    html = str(marked_text(text))
    parsed = Parsed(html)
    only_safe_markup(parsed)
    assert "<a" not in html
    assert parsed.shown == text
    supplied = [a for _, a in parsed.tags if a.get("class") == "supplied"]
    assert len(supplied) == 1
    assert "written by the agent" in str(supplied[0]["title"])
    assert f'<span class="tag">agent {what}</span>{marked.replace("&", "&amp;")}</span>' in html


def test_plain_words_are_not_marked() -> None:
    assert "supplied" not in str(marked_text("metadata: the user is happy, 10 @ 5 each"))


def test_very_deep_values_and_unrenderable_ones_still_render() -> None:
    deep: Any = "bottom"
    for _ in range(MAX_COLOURED_DEPTH + 10):
        deep = [deep]
    parsed = Parsed(str(render_value(deep)))
    assert "bottom" in parsed.shown
    assert json.dumps("bottom") in parsed.shown
    # A value storage holds that cannot be rendered shows the placeholder, escaped.
    assert PLACEHOLDER in Parsed(str(render_value(float("inf")))).shown
