"""How a failed delivery is tried again: the waits, and the service's rest after a pass that
stopped short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.retries import LONGEST_BACKOFF, Rest, backoff

MINUTE = timedelta(minutes=1)
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_the_wait_doubles_with_each_attempt_up_to_six_hours() -> None:
    assert [backoff(MINUTE, n) for n in range(4)] == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE]
    assert backoff(MINUTE, 8) == 256 * MINUTE < LONGEST_BACKOFF
    assert backoff(MINUTE, 9) == LONGEST_BACKOFF == timedelta(hours=6)
    assert backoff(timedelta(seconds=1), 10) == timedelta(seconds=1024)
    # Past ten attempts the wait stops growing, however many were made.
    assert backoff(timedelta(seconds=1), 11) == backoff(timedelta(seconds=1), 400)


def test_the_service_rests_after_a_pass_that_stopped_short_longer_each_time() -> None:
    rest = Rest(MINUTE)
    assert not rest.holds(NOW)
    rest.after(True, NOW)
    assert rest.holds(NOW) and rest.holds(NOW + MINUTE - timedelta(seconds=1))
    assert not rest.holds(NOW + MINUTE)
    rest.after(True, NOW + MINUTE)
    assert rest.until == NOW + 3 * MINUTE  # twice as long
    for _ in range(20):
        rest.after(True, NOW)
    assert rest.step == LONGEST_BACKOFF and rest.until == NOW + LONGEST_BACKOFF


def test_a_pass_that_goes_through_ends_the_rest_and_its_growth() -> None:
    rest = Rest(MINUTE)
    rest.after(True, NOW)
    rest.after(True, NOW)
    rest.after(False, NOW)
    assert not rest.holds(NOW) and rest.until is None and rest.step is None
    rest.after(True, NOW)
    assert rest.until == NOW + MINUTE  # starts again from the first wait


def test_a_clock_turned_back_ends_the_rest() -> None:
    rest = Rest(MINUTE)
    rest.after(True, NOW)
    assert not rest.holds(NOW - LONGEST_BACKOFF)  # the rest would end further ahead than any
