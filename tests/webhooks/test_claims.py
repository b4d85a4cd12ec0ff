"""Several workers (threads here, replicas in production) claiming from one outbox."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import pytest

from foureyes.storage import Database

from ..db import claim
from .conftest import World

pytestmark = pytest.mark.anyio


async def test_racing_claims_never_lease_one_delivery_twice(world: World, database_url: str) -> None:
    world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    for n in range(30):
        world.function_call(f"call-{n}")
    # A second pool on the same database, as a second replica would have.
    stores = [world.service.db, Database.from_url(database_url)]
    now = world.clock()
    racers = 4
    barrier = threading.Barrier(racers)

    def claim_all(store: Database) -> list[int]:
        barrier.wait()
        taken: list[int] = []
        while claimed := claim(store, now=now, lease_until=now + timedelta(minutes=1), limit=3):
            taken.extend(delivery.id for delivery in claimed)
        return taken

    try:
        results = await asyncio.gather(*(asyncio.to_thread(claim_all, stores[n % 2]) for n in range(racers)))
    finally:
        stores[1].close()
    counts = Counter(delivery_id for taken in results for delivery_id in taken)
    assert len(counts) == 30
    assert set(counts.values()) == {1}
    # Leased rows stay out of reach until the lease runs out, then come back once.
    assert claim(world.service.db, now=now, lease_until=now, limit=50) == []
    later = now + timedelta(minutes=2)
    again = claim(world.service.db, now=later, lease_until=later, limit=50)
    assert len(again) == 30


async def test_each_sink_keeps_its_own_slots_per_target(world: World) -> None:
    """A webhook endpoint gets the webhook sink's slots, whatever another sink's are."""
    world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    for n in range(5):
        world.function_call(f"call-{n}")  # five deliveries to one endpoint, five items
    now = world.clock()
    taken = claim(world.service.db, now=now, lease_until=now, limit=10, per_target={"webhook": 3, "email": 1})
    assert [d.sink for d in taken] == ["webhook"] * 3
