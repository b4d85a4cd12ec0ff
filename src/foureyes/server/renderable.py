"""Rendering that cannot fail on what storage already holds.

The input policy (``input_policy``) keeps new values renderable, but storage may hold values from
before it: arguments nested hundreds of levels deep (JSON encoders recurse, so they raise
``RecursionError``), or numbers that came back as infinity. Both the JSON API (``wire``) and the
inbox (``inbox.views``) pass stored values through here: whatever part cannot be rendered is
replaced by ``PLACEHOLDER``, a plain string, and everything around it is shown as it is (an
object keeps its other members; an array is replaced whole). The inbox escapes the placeholder
like any other agent text.
"""

from __future__ import annotations

import json
import math
from typing import Any

from foureyes.server.settings import MAX_JSON_DEPTH_CEILING

PLACEHOLDER = "[foureyes: value not shown, it cannot be rendered (nested too deeply or not valid JSON)]"

# Counted from the value passed in (an item's spec is level 1); deeper than anything the input
# policy accepts, with room for the envelopes around it (item, webhook), and far enough inside
# Python's recursion limit for the JSON encoders, which recurse once per level.
MAX_RENDER_DEPTH = MAX_JSON_DEPTH_CEILING + 40


def _renderable_leaf(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _fits(value: Any, max_depth: int) -> bool:
    """Whether ``value`` renders as it is; an explicit stack, so any depth is safe to look at."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            if not _renderable_leaf(node):
                return False
            continue
        if depth > max_depth:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def _trimmed(value: Any, room: int) -> Any:
    """A value that does not fit in ``room`` levels: an object keeps its keys and each member
    that fits; anything else (an array, a leaf, an object with no room left) becomes the
    placeholder whole. Recursion is bounded by ``room``. Only values stored before the input
    policy come here, so re-checking members on the way down costs nothing in normal use."""
    if not isinstance(value, dict) or room <= 0:
        return PLACEHOLDER
    return {
        (key if _renderable_leaf(key) else PLACEHOLDER): (
            child if _fits(child, room - 1) else _trimmed(child, room - 1)
        )
        for key, child in value.items()
    }


def renderable(value: Any, max_depth: int = MAX_RENDER_DEPTH) -> Any:
    """``value`` itself when it renders, else a copy with each part that does not replaced by
    ``PLACEHOLDER``."""
    if _fits(value, max_depth):
        return value
    return _trimmed(value, max_depth)


def json_text(value: Any, *, indent: int | None = None, separators: tuple[str, str] | None = None) -> str:
    """``value`` as JSON text for people to read; never raises."""
    try:
        return json.dumps(
            renderable(value), ensure_ascii=False, allow_nan=False, indent=indent, separators=separators
        )
    except (ValueError, TypeError, RecursionError):
        return json.dumps(PLACEHOLDER)
