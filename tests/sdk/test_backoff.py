"""The one backoff schedule: exponential, capped, jittered within its window."""

from __future__ import annotations

import itertools
import random

import pytest

from foureyes._backoff import Backoff, jittered_delay, nominal_delay


def test_nominal_delays_double_up_to_the_cap() -> None:
    assert [nominal_delay(n, 0.25, 10.0) for n in range(1, 9)] == [0.25, 0.5, 1, 2, 4, 8, 10, 10]
    assert nominal_delay(0, 0.25, 10.0) == 0.25  # "no failure yet" is treated as the first
    assert nominal_delay(10_000, 5.0, 21_600.0) == 21_600.0  # no overflow far past the cap


def test_the_cap_is_reached_once_and_never_left() -> None:
    delays = [nominal_delay(n, 0.1, 5.0) for n in range(1, 200)]
    assert delays == sorted(delays)
    assert max(delays) == 5.0
    first = delays.index(5.0)
    assert set(delays[first:]) == {5.0}


@pytest.mark.parametrize("window", [(0.0, 1.0), (0.8, 1.2), (1.0, 1.0)])
def test_each_delay_stays_in_its_window(window: tuple[float, float]) -> None:
    rng = random.Random(7)
    low, high = window
    for attempt in range(1, 40):
        nominal = nominal_delay(attempt, 0.25, 10.0)
        delay = jittered_delay(attempt, 0.25, 10.0, rng.random(), window)
        assert nominal * low <= delay <= nominal * high
    assert jittered_delay(3, 1.0, 100.0, 0.0, window) == 4 * low
    assert jittered_delay(3, 1.0, 100.0, 0.5, window) == pytest.approx(4 * (low + high) / 2)


def test_a_seeded_draw_gives_the_same_schedule() -> None:
    def schedule(seed: int) -> list[float]:
        backoff = Backoff(0.25, 10.0, draw=random.Random(seed).random)
        return list(itertools.islice(backoff.delays(), 12))

    assert schedule(3) == schedule(3)
    assert schedule(3) != schedule(4)
    assert len(set(schedule(3))) == 12  # jittered, not a fixed schedule


def test_full_jitter_spreads_clients_over_the_whole_window() -> None:
    backoff = Backoff(1.0, 1.0, draw=random.Random(1).random)
    delays = [backoff.delay(1) for _ in range(2000)]
    assert min(delays) < 0.05
    assert max(delays) > 0.95
    assert 0.45 < sum(delays) / len(delays) < 0.55


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(0.0, 1.0)
    with pytest.raises(ValueError, match="base"):
        Backoff(2.0, 1.0)
    with pytest.raises(ValueError, match="window"):
        Backoff(1.0, 2.0, window=(1.2, 0.8))
