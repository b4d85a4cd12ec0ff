"""``foureyes watch``: a live terminal inbox for a reviewer.

It re-reads the pending approvals and questions at least once a second and decides through the
same REST ``respond`` endpoints as every other channel, with a ``respond``-scoped key. Agent-
written text (function names, arguments, messages, options) goes through ``untrusted``: shown
literally, control characters escaped, never read as Rich markup.

Keys: up/down or j/k or 1-9 select; ``a`` approve; ``r`` reject (asks for the comment the agent
is given); ``o`` then a digit picks one of the item's options (a reject option for an approval,
an answer for a question); ``t`` types an answer to a question; ``q`` quits. While typing,
Enter sends, Escape cancels, Backspace deletes.
"""

from __future__ import annotations

import json
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from foureyes._exceptions import APIError, TransportError
from foureyes._protocol import ItemKind

Request = Callable[[str, str, "dict[str, Any] | None"], dict[str, Any]]
Untrusted = Callable[[str], Text]

REFRESH_SECONDS = 1.0


@dataclass
class Entry:
    kind: str
    item: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, str(self.item["call_id"]))

    @property
    def options(self) -> list[dict[str, Any]]:
        spec = self.item["spec"]
        found = spec.get("reject_options" if self.kind == ItemKind.FUNCTION_CALL else "response_options")
        return list(found or [])


@dataclass
class Inbox:
    """The state of the view, and what each key does to it. No terminal I/O here."""

    request: Request
    untrusted: Untrusted
    entries: list[Entry] = field(default_factory=list)
    selected: int = 0
    # None, "reject" (typing a comment), "answer" (typing an answer) or "option" (picking one)
    mode: str | None = None
    typed: str = ""
    message: Text = field(default_factory=Text)
    updated: str = ""
    done: bool = False

    def refresh(self) -> None:
        chosen = self.current.key if self.current else None
        try:
            calls = self.request("GET", "/agent/function_calls/pending", None)["items"]
            contacts = self.request("GET", "/agent/human_contacts/pending", None)["items"]
        except (APIError, TransportError) as exc:
            self.message = Text(f"cannot refresh: {getattr(exc, 'message', exc)}", style="red")
            return
        self.entries = [Entry(ItemKind.FUNCTION_CALL, i) for i in calls] + [
            Entry(ItemKind.HUMAN_CONTACT, i) for i in contacts
        ]
        keys = [e.key for e in self.entries]
        if chosen in keys:
            self.selected = keys.index(chosen)
        self.selected = max(0, min(self.selected, len(self.entries) - 1))
        if self.current is None or (chosen is not None and self.current.key != chosen):
            self.mode, self.typed = None, ""  # what was being answered is gone
        self.updated = datetime.now().strftime("%H:%M:%S")

    @property
    def current(self) -> Entry | None:
        return self.entries[self.selected] if self.entries else None

    # ------------------------------------------------------------------ keys

    def key(self, key: str) -> None:
        if self.mode in ("reject", "answer"):
            self._typing(key)
        elif self.mode == "option":
            self._picking(key)
        else:
            self._command(key)

    def _command(self, key: str) -> None:
        entry = self.current
        if key in ("q", "\x03"):
            self.done = True
        elif key in ("down", "j"):
            self.selected = min(self.selected + 1, max(len(self.entries) - 1, 0))
        elif key in ("up", "k"):
            self.selected = max(self.selected - 1, 0)
        elif key.isdigit() and key != "0":
            if int(key) <= len(self.entries):
                self.selected = int(key) - 1
        elif entry is None:
            return
        elif key == "a":
            if entry.kind != ItemKind.FUNCTION_CALL:
                self.message = Text("a question is answered with t (or o for an option)", style="yellow")
                return
            self._respond(entry, {"approved": True, "comment": None}, "Approved")
        elif key == "r":
            if entry.kind != ItemKind.FUNCTION_CALL:
                self.message = Text("only an approval can be rejected", style="yellow")
                return
            self.mode, self.typed = "reject", ""
        elif key == "t":
            if entry.kind != ItemKind.HUMAN_CONTACT:
                self.message = Text("approve with a, or reject with r", style="yellow")
                return
            self.mode, self.typed = "answer", ""
        elif key == "o":
            if not entry.options:
                self.message = Text("this item has no options", style="yellow")
                return
            self.mode = "option"

    def _typing(self, key: str) -> None:
        entry = self.current
        if key == "escape" or entry is None:
            self.mode, self.typed = None, ""
        elif key == "backspace":
            self.typed = self.typed[:-1]
        elif key == "enter":
            text = self.typed.strip()
            if not text:
                what = "a rejection needs a comment" if self.mode == "reject" else "type an answer"
                self.message = Text(f"{what} (Escape cancels)", style="yellow")
                return
            if self.mode == "reject":
                self._respond(entry, {"approved": False, "comment": text}, "Rejected")
            else:
                self._respond(entry, {"response": text}, "Answered")
            self.mode, self.typed = None, ""
        elif len(key) == 1 and key.isprintable():
            self.typed += key

    def _picking(self, key: str) -> None:
        entry = self.current
        self.mode = None
        if entry is None or not key.isdigit() or not 1 <= int(key) <= len(entry.options):
            return
        name = entry.options[int(key) - 1]["name"]
        if entry.kind == ItemKind.FUNCTION_CALL:
            self._respond(entry, {"approved": False, "reject_option_name": name}, "Rejected")
        else:
            self._respond(entry, {"response_option_name": name}, "Answered")

    def _respond(self, entry: Entry, body: dict[str, Any], verb: str) -> None:
        path = "function_calls" if entry.kind == ItemKind.FUNCTION_CALL else "human_contacts"
        call_id = str(entry.item["call_id"])
        try:
            self.request("POST", f"/agent/{path}/{quote(call_id, safe='')}/respond", body)
        except (APIError, TransportError) as exc:
            self.message = Text(f"{verb} failed: {getattr(exc, 'message', exc)}", style="red")
        else:
            self.message = Text.assemble(f"{verb} ", self.untrusted(call_id), ".", style="green")
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def render(self) -> RenderableType:
        u = self.untrusted
        title = f"foureyes watch: {len(self.entries)} waiting (updated {self.updated})"
        listing = Table.grid(padding=(0, 1))
        for n, entry in enumerate(self.entries, start=1):
            spec = entry.item["spec"]
            label = spec["fn"] if entry.kind == ItemKind.FUNCTION_CALL else spec["msg"].splitlines()[0][:80]
            style = "reverse" if n - 1 == self.selected else ""
            kind = "approve?" if entry.kind == ItemKind.FUNCTION_CALL else "question"
            listing.add_row(
                Text(f"{n}", style=style), Text(kind, style=style), u(entry.item["call_id"]), u(label)
            )
        if not self.entries:
            listing.add_row(Text("Nothing is waiting for a decision.", style="dim"))
        parts: list[RenderableType] = [Panel(listing, title=title, title_align="left")]
        if self.current is not None:
            parts.append(self._detail(self.current))
        parts.append(self._prompt())
        return Group(*parts)

    def _detail(self, entry: Entry) -> RenderableType:
        u = self.untrusted
        spec = entry.item["spec"]
        if entry.kind == ItemKind.FUNCTION_CALL:
            body = u(f"{spec['fn']}({json.dumps(spec['kwargs'], indent=2, ensure_ascii=False)})")
        else:
            body = u(f"[{spec['subject']}] " if spec.get("subject") else "").append_text(u(spec["msg"]))
        for n, option in enumerate(entry.options, start=1):
            body.append(f"\n  option {n}: ", style="dim").append_text(u(str(option["name"])))
            extra = option.get("title") or option.get("description")
            if extra:
                body.append(" - ", style="dim").append_text(u(str(extra)))
        body.append("\nrun ", style="dim").append_text(u(str(entry.item["run_id"])))
        return Panel(body, title=u(str(entry.item["call_id"])), title_align="left")

    def _prompt(self) -> RenderableType:
        if self.mode == "reject":
            line = Text("Reject, comment for the agent: ", style="bold").append_text(
                self.untrusted(self.typed)
            )
        elif self.mode == "answer":
            line = Text("Answer: ", style="bold").append_text(self.untrusted(self.typed))
        elif self.mode == "option":
            line = Text("Pick an option by its number (any other key cancels)", style="bold")
        else:
            line = Text(
                "↑/↓ j/k 1-9 select · a approve · r reject · o option · t answer · q quit", style="dim"
            )
        return Group(self.message, line)


# ---------------------------------------------------------------------- the terminal


_SEQUENCES = {"\x1b[A": "up", "\x1b[B": "down", "\x1bOA": "up", "\x1bOB": "down"}


def split_keys(data: str) -> Iterator[str]:
    """Keys from what the terminal sent: arrows, Enter, Backspace, Escape, or one character."""
    i = 0
    while i < len(data):
        for sequence, name in _SEQUENCES.items():
            if data.startswith(sequence, i):
                yield name
                i += len(sequence)
                break
        else:
            char = data[i]
            i += 1
            if char == "\x1b":
                # an unknown sequence is skipped whole; a lone Escape cancels
                if data.startswith("[", i):
                    while i < len(data) and not data[i].isalpha() and data[i] != "~":
                        i += 1
                    i += 1
                    continue
                yield "escape"
            elif char in ("\r", "\n"):
                yield "enter"
            elif char in ("\x7f", "\x08"):
                yield "backspace"
            else:
                yield char


@contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run(request: Request, untrusted: Untrusted, console: Console | None = None) -> None:
    """Run the inbox until ``q``. Needs a terminal on stdin."""
    fd = sys.stdin.fileno()
    if not os.isatty(fd):
        raise TransportError("foureyes watch needs an interactive terminal (stdin is not a tty)")
    inbox = Inbox(request, untrusted)
    inbox.refresh()
    console = console or Console()
    with _cbreak(fd), Live(inbox.render(), console=console, screen=True, auto_refresh=False) as live:
        next_refresh = time.monotonic() + REFRESH_SECONDS
        while not inbox.done:
            ready, _, _ = select.select([fd], [], [], max(0.0, next_refresh - time.monotonic()))
            if ready:
                data = os.read(fd, 1024).decode("utf-8", errors="replace")
                if not data:  # the terminal went away
                    break
                for key in split_keys(data):
                    inbox.key(key)
                    if inbox.done:
                        break
            if time.monotonic() >= next_refresh:
                inbox.refresh()
                next_refresh = time.monotonic() + REFRESH_SECONDS
            live.update(inbox.render(), refresh=True)
