"""The filters of a project's lists, kept in the URL's query string (and carried from a list to
an item's page and back, so a decision opens the next request of the same filters)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request

from . import views


@dataclass(frozen=True)
class Filters:
    text: str
    fn: str
    run: str
    agent: str
    age: str
    kind: str

    @classmethod
    def from_request(cls, request: Request) -> Filters:
        q = request.query_params

        def get(name: str) -> str:
            return q.get(name, "").strip()[:256]

        age = get("age")
        kind = get("kind")
        return cls(get("q"), get("fn"), get("run"), get("agent"), age if age in views.AGES else "", kind)

    @property
    def active(self) -> bool:
        return any((self.text, self.fn, self.run, self.agent, self.age, self.kind))

    def query(self, **extra: str) -> str:
        """These filters (and ``extra``) as a query string, ``?`` included; empty when none."""
        pairs = zip(("q", "fn", "run", "agent", "age", "kind"), self.values(), strict=True)
        kept = [(k, v) for k, v in (*pairs, *extra.items()) if v]
        return "?" + urlencode(kept) if kept else ""

    def values(self) -> tuple[str, ...]:
        return (self.text, self.fn, self.run, self.agent, self.age, self.kind)
