"""How a delivery that failed is tried again, for a digest's mail and a reader's chat alike:
the waits and the limits. Pure: numbers in, numbers out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

LONGEST_BACKOFF = timedelta(hours=6)  # a failed delivery is retried at least this often
# Attempts in a row that ended with no outcome recorded, after which a digest is held (failed)
# instead of sent again: the first may have reached its reader, so it goes once more at most.
UNRECORDED_LIMIT = 2
# How long a digest whose delivery has no outcome recorded waits before it is tried again
# (DIGEST_RETRY_SECONDS when that is shorter): its worker died mid-delivery, or could not
# record; long enough for a live worker's claim to be seen, short enough that another worker
# takes over a dead one's digest within seconds. UNRECORDED_LIMIT bounds the repeats.
IN_FLIGHT = timedelta(seconds=5)
# Deliveries failing for now in a row after which a run tries no more: the rest stay pending.
FAILURES_IN_A_ROW = 3


def backoff(first_retry: timedelta, attempts: int) -> timedelta:
    """The wait before the next try after `attempts` made: doubled each time, up to 6 hours."""
    wait: timedelta = first_retry * 2 ** min(attempts, 10)
    return min(wait, LONGEST_BACKOFF)


@dataclass
class Rest:
    """How long the service leaves the outbox alone after a delivery pass that stopped short
    (the state could not record an outcome, or the mail server failed several digests in a
    row): from DIGEST_RETRY_SECONDS, doubled while it goes on, up to the longest backoff. A
    pass that goes through ends it. Kept in memory: a state that cannot be written cannot
    keep it."""

    first: timedelta
    until: datetime | None = None
    step: timedelta | None = None

    def holds(self, now: datetime) -> bool:
        """Whether the outbox is left alone at `now` (a clock turned back ends the rest)."""
        return self.until is not None and now < self.until <= now + LONGEST_BACKOFF

    def after(self, stopped_short: bool, now: datetime) -> None:
        """Rest after a pass that stopped short, or end the rest after one that did not."""
        if not stopped_short:
            self.until = self.step = None
            return
        self.step = self.first if self.step is None else min(self.step * 2, LONGEST_BACKOFF)
        self.until = now + self.step
