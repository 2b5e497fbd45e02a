"""Fetching the listing in `digest serve`: on the fetch schedule, and first thing when a
digest is due that the listing of its time has not reached yet."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from apscheduler.triggers.base import BaseTrigger

from digest.errors import DigestError
from digest.inbox import Candidate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.settings import Settings

log = logging.getLogger(__name__)


def last_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest time the schedule fired at or before `now` (within the last 40 days)."""
    moment = now - timedelta(days=40)
    last = None
    fire: datetime | None = trigger.get_next_fire_time(None, moment)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return last


class Fetching:
    """The service's fetches: one at a time (the job's or a digest's), each time of the
    fetch schedule fetched for once, counting only the times since the service took the lead
    (`began`)."""

    def __init__(
        self,
        settings: Settings,
        trigger: BaseTrigger | None,
        tz: tzinfo,
        stopping: threading.Event,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.trigger = trigger  # None: the service does not fetch listings
        self.tz = tz
        self.stopping = stopping
        self.clock = clock
        self.began: datetime | None = None  # when the service took the lead
        self._one = threading.Lock()
        # The fetch schedule's time last fetched for, and the file it gave (if any).
        self.fetched: tuple[datetime, Path | None] | None = None

    def owed(self, now: datetime) -> datetime | None:
        """The fetch schedule's latest time up to `now` whose listing is not fetched yet;
        None: nothing is owed."""
        if self.trigger is None or self.began is None:
            return None
        due = last_fire(self.trigger, now)
        if due is None or due < self.began:
            return None
        if self.fetched is not None and self.fetched[0] >= due:
            return None
        return due

    def fetch(self, now: datetime) -> None:
        """Fetch yesterday's listing into the inbox, unless the fetch schedule's time up to
        `now` was fetched for already (by the job, or by a digest that could not wait).
        Never raises: a failure is one log line and the service carries on."""
        from digest import fetch

        with self._one:
            owed = self.owed(now)
            if owed is None and self.began is not None:
                return  # fetched for already
            due = owed or now
            day = fetch.yesterday(self.clock(), self.tz)
            path = None
            try:
                got = fetch.fetch_day(self.settings, day, stop=self.stopping)
                log.info("%s", got.line())
                path = got.path
            except DigestError as e:
                log.error("fetch of %s failed: %s", day, e)
            except Exception as e:  # a bug or a broken disk: say so, keep serving
                log.error("fetch of %s failed: %s: %s", day, type(e).__name__, e)
                log.debug("the failure in detail", exc_info=True)
            self.fetched = (due, path)

    def first(self, now: datetime) -> Candidate | None:
        """Before a scheduled digest: the listing its time is owed, fetched (or its fetch
        under way finished) within DIGEST_FETCH_TIMEOUT, as a file ready to read; None when
        nothing is owed, the fetch failed or it takes longer (the digest goes on without)."""
        due = self.owed(now)
        if due is None:
            return None
        fetching = threading.Thread(target=self.fetch, args=(now,), daemon=True)
        fetching.start()
        fetching.join(self.settings.fetch_timeout)
        if fetching.is_alive():
            log.warning(
                "the listing's fetch takes longer than %gs (DIGEST_FETCH_TIMEOUT): this digest"
                " goes on without it; the next one reads it",
                self.settings.fetch_timeout,
            )
            return None
        got = self.fetched
        if got is None or got[0] < due or got[1] is None:
            return None
        try:
            st = got[1].stat()
        except OSError:
            return None  # moved away already: read, then
        return Candidate(got[1], st.st_size, st.st_mtime_ns)
