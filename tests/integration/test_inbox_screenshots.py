"""Screenshots of the real inbox in Debian's Chromium: the pending list, a request, a run, the
phone layout and dark mode.

They go to a temporary directory, so running the suite changes no file in the repository;
``scripts/screenshots`` sets ``FOUREYES_SCREENSHOTS`` to ``docs/img`` to refresh the pictures
the README and docs/inbox.md show.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .inbox_browser import HANG_GUARD_MS, Site, function_call, human_contact, sign_in

pytestmark = pytest.mark.slow

SHOTS = ("inbox.png", "item.png", "run.png", "phone.png", "dark.png")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    wanted = os.environ.get("FOUREYES_SCREENSHOTS")
    found = Path(wanted) if wanted else tmp_path
    found.mkdir(parents=True, exist_ok=True)
    return found


def _requests(site: Site) -> None:
    """A believable morning in project "payments"."""
    site.person("ada@example.com", "payments", "reviewer", "Ada Lovelace")
    site.service.people.add_user("ada@example.com", "support", "viewer", None)
    billing = site.agent(site.key("payments", name="billing-agent"))
    support = site.agent(site.key("payments", name="support-agent"))
    soon = (datetime.now(UTC) + timedelta(minutes=42)).isoformat()
    billing.post(
        "/function_calls",
        json=function_call("r1", fn="lookup_order", kwargs={"order": "A-1043"}, run_id="refund-A-1043"),
    )
    lead = site.agent(site.key("payments", ("respond",), name="team-lead"))
    lead.post("/agent/function_calls/r1/respond", json={"approved": True, "comment": "order exists"})
    billing.post(
        "/function_calls",
        json={
            **function_call(
                "r2",
                fn="refund_payment",
                run_id="refund-A-1043",
                kwargs={
                    "order": "A-1043",
                    "amount_eur": 129.0,
                    "reason": "Parcel arrived damaged.\nCustomer sent photos;\nsee https://tickets.example.com/T-88",
                    "notify": {"email": "jo@customer.example", "sms": None, "copy_to_finance": True},
                },
            ),
            "expires_at": soon,
        },
    )
    support.post(
        "/human_contacts", json=human_contact("s2", "The customer asks for a discount. 10 % or 15 %?")
    )
    billing.post(
        "/function_calls",
        json=function_call(
            "s3", fn="send_email", kwargs={"to": "cfo@example.com", "subject": "Q3 numbers", "attachments": 2}
        ),
    )


def test_screenshots_of_the_inbox(site: Site, chromium: Any, target: Path) -> None:
    _requests(site)
    base = f"{site.server.url}/inbox/p/payments"
    for scheme, viewport, shots in (
        ("light", {"width": 1200, "height": 820}, ("inbox.png", "item.png", "run.png")),
        ("light", {"width": 390, "height": 844}, ("phone.png",)),
        ("dark", {"width": 1200, "height": 820}, ("dark.png",)),
    ):
        context = chromium.new_context(viewport=viewport, color_scheme=scheme, device_scale_factor=1)
        context.set_default_timeout(HANG_GUARD_MS)
        page = context.new_page()
        try:
            sign_in(page, site, "ada@example.com")
            for shot in shots:
                path = {"item.png": "/function_calls/r2", "run.png": "/runs/refund-A-1043"}.get(shot, "")
                page.goto(base + path)
                expect(page.locator("main h1")).to_be_visible()
                page.screenshot(path=str(target / shot), full_page=shot != "phone.png")
        finally:
            context.close()
    for shot in SHOTS:
        assert (target / shot).stat().st_size > 10_000, shot
