"""`digest serve`: watch the inbox, deliver the digest on a schedule, stop cleanly.

How the parts fit together:

- The main thread polls the inbox every DIGEST_POLL_SECONDS. A file is *ready* once no process
  has it open for writing (Linux's /proc tells) and two polls in a row found it with the same
  size and modification time, or at once when its writer, seen at the last poll, closed it
  (while a file is being written, polls come every half second). Polling logs what it finds and
  retries outbox digests (then readers' chat messages) whose backoff has passed; it records
  nothing about dumps.
- An APScheduler job runs the pipeline on the schedule, reading only the ready files. The run is
  the unit of work: dumps, papers and the digest are recorded in one transaction before
  delivery, and papers count as seen only after it, so a kill at any moment leaves either
  nothing done or a pending digest that the next tick delivers (with the same Message-ID).
- The time up to which scheduled runs are done is kept in the state file; when a fire time
  passed while the service was down, it runs once on start (after one poll interval, so that
  files found at start are proven complete first), however many fire times were missed.
- A digest fetches first: when the fetch schedule (DIGEST_FETCH_SCHEDULE) fired since the
  service started and its listing is not fetched yet, the scheduled run starts that fetch (or
  joins the one under way) and waits for it up to DIGEST_FETCH_TIMEOUT, then reads the fetched
  file with the rest. A slow server delays a digest by that much at most.
- On a shared state (PostgreSQL) one service leads and the others follow, delivering the
  outbox. The lead is a lock that ends with the connection holding it, so the leader checks
  it still holds it every second and before each scheduled job, and stops scheduling the
  moment it does not (a restarted server, a lost network): it then follows like the others,
  and leads again when it can. A database out of reach is tried again, less and less often,
  said once when lost and once when back; the service never exits for it.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import FrameType

from apscheduler.triggers.base import BaseTrigger

from digest import channels, formats, inbox, pipeline, reader_settings, state
from digest.channels import session
from digest.channels.base import Retrying
from digest.errors import ConfigError, DigestError
from digest.inbox import Candidate
from digest.retries import Rest
from digest.service.fetching import Fetching, last_fire
from digest.service.schedule import missed_run, parse_schedule, reader_schedule
from digest.service.status import when
from digest.service.watch import WRITER_CHECK_SECONDS, Watch, unchanged
from digest.settings import zone
from digest.state import StateChanged, state_files, timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.channels.base import Deliverer
    from digest.models import ReaderState
    from digest.readers import Reader
    from digest.settings import Settings
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)

# How often a following service checks whether the lead is free, and a leading one that it
# still holds it.
FOLLOW_SECONDS = 1.0
# A database out of reach is tried again after the first wait, doubled each time up to the second.
RECONNECT_SECONDS = (1.0, 10.0)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    """The long-running service: polls the inbox, runs the pipeline on the schedule."""

    def __init__(
        self,
        settings: Settings,
        deliverer: Deliverer,
        trigger: BaseTrigger,
        tz: tzinfo,
        clock: Callable[[], datetime] = _utc_now,
        fetch_trigger: BaseTrigger | None = None,
    ) -> None:
        self.settings = settings
        self.deliverer = deliverer
        self.trigger = trigger
        self.fetch_trigger = fetch_trigger  # None: the service does not fetch listings
        self.stopping = threading.Event()
        self.tz = tz
        self.clock = clock
        self.watch = Watch()
        self.hashes: dict[Candidate, str] = {}  # content hash of each ready file read so far
        self.next_run: datetime | None = None
        self.runs = 0  # scheduled runs finished since start
        self._problems: dict[str, str] = {}  # ongoing failures by kind, each logged once
        self.groups: dict[str, Group] = {}  # the readers file's schedules; none: DIGEST_TO's
        # Set by a run that found the state file changed under the service (see `_reopen`).
        self.file_changed = threading.Event()
        self.leader: StateStore | None = None  # while it leads: the store holding the lead
        self._lost_lead = False  # the lead ended under it, said once
        self._said = threading.Lock()
        self._lost_at: float | None = None  # when the database was found out of reach
        self.rest = Rest(pipeline.retry(settings))  # the outbox, left alone for a while
        self.fetching = Fetching(settings, fetch_trigger, tz, self.stopping, clock)

    def now(self) -> datetime:
        """The current time in the schedule's time zone."""
        return self.clock().astimezone(self.tz)

    # -- polling (main thread) -----------------------------------------------------------

    def poll(self, store: StateStore) -> list[Candidate]:
        """One look at the inbox: note the files that became complete, retry due digests."""
        try:
            folder = self.settings.require_inbox()
            found = inbox.scan(folder, state_files(self.settings.state))
        except DigestError as e:
            self._report_problem("inbox", str(e))
            return []
        except OSError as e:
            self._report_problem(
                "inbox", f"cannot read the inbox {self.settings.inbox}: {e.strerror}"
            )
            return []
        if self._problems.pop("inbox", None) is not None:
            log.info("inbox %s can be read again", folder)
        newly = self.watch.update(found, inbox.being_written(found))
        hashes = {c: sha for c, sha in self.hashes.items() if c in self.watch.ready}
        for candidate in newly:
            sha = self._announce(store, folder, candidate)
            if sha is not None:
                hashes[candidate] = sha
        self.hashes = hashes  # replaced whole, for the job's thread
        self.retry_due(store)
        self.chats_due(store)
        return newly

    def _report_problem(self, kind: str, message: str) -> None:
        # A service running for months must not repeat the same line every poll.
        if self._problems.get(kind) != message:
            log.error("%s", message)
            self._problems[kind] = message

    def _announce(self, store: StateStore, folder: Path, candidate: Candidate) -> str | None:
        """Log a file that became complete; return its content hash when it could be read."""
        name = inbox.name_of(candidate.path)
        try:
            data = inbox.read(candidate.path, folder, self.settings.max_dump_mb * 1_000_000)
        except Exception:  # ParseError, OSError or anything: the run reports it, for this file
            log.info("%s is complete; the next run will say why it cannot be read", name)
            return None
        sha = formats.sha256(data)
        if store.known_dumps([sha]):
            log.info("%s is complete: same content as a dump read before, nothing new", name)
        else:
            due = f"at {when(self.next_run)}" if self.next_run else "when the schedule fires"
            log.info(
                "%s is complete (%s bytes); it goes into the next digest, %s",
                name,
                f"{len(data):,}",
                due,
            )
        return sha

    def retry_due(self, store: StateStore) -> None:
        """Deliver the outbox's pending digests whose backoff has passed."""
        if store.shared:
            return self.deliver_due(store)
        now = self.clock()
        if self.rest.holds(now) or not store.outgoing(status="pending", due=now, bare=True):
            return  # the common case, without taking the run lock
        report = pipeline.Report()
        with store.lock(), session(self.deliverer):
            # Stopped while it waited for a run to let go of the state: a digest that run
            # left pending for its own stop is for the next start, not tried again now.
            if self.stopping.is_set():
                return None
            for item in store.outgoing(status="pending", due=now):
                pipeline.send(
                    store, self.deliverer, item, report, now, pipeline.retry(self.settings)
                )
        self.rest.after(report.stopped_short, now)
        for line in report.delivered:
            log.info("pending digest delivered: %s", line)

    def chats_due(self, store: StateStore) -> None:
        """Send the readers' chat messages kept for later whose backoff has passed."""
        if isinstance(self.deliverer, Retrying) and not self.stopping.is_set():
            self.deliverer.retry_due(store, self.clock())

    # -- the scheduled run (the scheduler's thread) -------------------------------------

    def run_scheduled(self, group: str | None = None) -> None:
        """The scheduled job: the pipeline on the ready files for the readers of `group`
        (the readers file's readers with one schedule and time zone; None: the one reader
        of DIGEST_TO), then record the run. Never raises: a failure is one log line and
        the service carries on. Made only while this service leads."""
        if not self._still_leads():
            return
        started = self.now()
        fetched = self.fetching.first(started)
        ready, hashes = self.watch.ready, self.hashes
        if fetched is not None:
            ready = ready | {fetched}
        log.debug("scheduled run started; complete files in the inbox: %d", len(ready))
        try:
            with state.open(self.settings.state) as store:
                try:
                    result, ok = self._run(store, started, ready, hashes, group)
                except Exception as e:  # a bug: said once, and the run is still recorded
                    log.error("scheduled run failed: %s: %s", type(e).__name__, e)
                    log.debug("the failure in detail", exc_info=True)
                    result, ok = f"failed: {type(e).__name__}: {e}", False
                done = started.isoformat()
                values = {_done_key(group): done, "last_run": done, "last_result": result}
                if ok:
                    values["last_success"] = done
                store.set_service_state(**values)
        except StateChanged as e:
            log.error("scheduled run failed: %s", e)
            self.file_changed.set()
        except DigestError as e:
            log.error("scheduled run failed: %s", e)
        except Exception as e:  # a bug or a broken disk: say so, keep serving
            log.error("scheduled run failed: %s: %s", type(e).__name__, e)
            log.debug("the failure in detail", exc_info=True)
        finally:
            self.runs += 1

    def _run(
        self,
        store: StateStore,
        started: datetime,
        ready: frozenset[Candidate],
        hashes: dict[Candidate, str],
        group: str | None = None,
    ) -> tuple[str, bool]:
        readers = None
        trigger = self.trigger
        if group is not None:
            if group not in self.groups:
                return f"no reader has the schedule {group} any more", True
            trigger = self.groups[group].trigger
            known = {r.key: r for r in store.all_readers()}
            readers = [r for r, g in reader_groups(self.settings, known) if g.key == group]
        # The scheduled time this run is for: a reader never gets two digests for one.
        period = last_fire(trigger, started)
        try:
            report = pipeline.run_once(
                self.settings,
                store,
                self.deliverer,
                started,
                retry_all=False,
                ready={c: hashes.get(c) for c in ready},
                readers=readers,
                period=None if period is None else f"{group or ''}@{period.isoformat()}",
            )
        except DigestError as e:
            log.error("scheduled run failed: %s", e)
            return f"failed: {e}", False
        if report.halted is not None:  # the polls' retries wait too
            self.rest.after(report.stopped_short, self.clock())
        digest = report.digest
        for dump in digest.dumps if digest else ():
            date = f", listed {dump.listing_date}" if dump.listing_date else ""
            log.info("read %s: %d papers%s", dump.name, len(dump.papers), date)
        if self.settings.processed == "move":
            self.move_processed(store, ready, hashes)
        result = _result(report)
        return result, report.ok

    def move_processed(
        self, store: StateStore, ready: Iterable[Candidate], hashes: dict[Candidate, str]
    ) -> None:
        """Move the ready files whose content was read into the digest to processed/ inside
        the inbox (scans skip subfolders). Files that could not be read stay, for you to see."""
        ingested = store.ingested_dumps(sha for c, sha in hashes.items() if c in ready)
        folder = self.settings.require_inbox()
        with store.lock():  # a `digest now` beside us must not find a file gone mid-run
            for candidate in sorted(ready, key=lambda c: c.path.name):
                sha = hashes.get(candidate)
                if sha not in ingested or not unchanged(candidate):
                    continue
                inbox.set_aside(candidate.path, folder, inbox.PROCESSED, sha[:12])

    def fetch_scheduled(self) -> None:
        """The fetch job: yesterday's listing into the inbox, one log line.
        Never raises: a failure is one log line and the service carries on."""
        if self._still_leads():
            self.fetching.fetch(self.now())

    def jobs(self) -> list[tuple[str, Callable[[], None], BaseTrigger]]:
        """The scheduled jobs: the digest, and fetching the listing when it has a schedule."""
        jobs: list[tuple[str, Callable[[], None], BaseTrigger]] = [
            (f"digest:{key}", functools.partial(self.run_scheduled, key), g.trigger)
            for key, g in self.groups.items()
        ] or [("digest", self.run_scheduled, self.trigger)]
        if self.fetch_trigger is not None:
            jobs.append(("fetch", self.fetch_scheduled, self.fetch_trigger))
        return jobs

    # -- the whole service (main thread) ------------------------------------------------

    def serve(self) -> int:
        """Run until SIGTERM or SIGINT: the first lets a running digest finish, a second stops
        at once. Returns the exit code. A state file takes one service (a second is refused);
        on a shared state this service follows while another leads (see the module doc)."""
        stop = self.stopping

        def on_signal(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if stop.is_set():
                log.warning("%s again: stopping at once", name)
                os._exit(128 + signum)  # the state file stays consistent: see the module doc
            log.info("%s: stopping once the current run is done (send it again to stop now)", name)
            stop.set()
            channels.stop(self.deliverer)  # a delivery in progress ends now, left pending

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            where = self.settings.state
            with state.open(where) as store:
                if not store.shared and not store.lead():
                    raise DigestError(
                        f"digest serve is already running with state file {where}; stop it first"
                    )
                while not stop.is_set() and (not store.shared or self._follow(store)):
                    self._serve_leading(store)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("stopped")
        return 0

    def _serve_leading(self, store: StateStore) -> None:
        """Run the schedule and poll the inbox until stopped, or until this service no longer
        leads (its lead ended with its connection to a shared state)."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        stop = self.stopping
        # UTC for the scheduler's own clock: comparing times in one zone ignores DST folds,
        # comparing across zones does not. Triggers keep the schedule's zone.
        scheduler = BackgroundScheduler(
            timezone=UTC,
            # Each job its own thread: a slow fetch never holds back a digest.
            executors={"default": ThreadPoolExecutor(1), "fetch": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for name, job, trigger in self.jobs():
            executor = "fetch" if name == "fetch" else "default"
            scheduler.add_job(job, trigger, id=name, executor=executor)
        try:
            missed_groups = self._start(store)
        except DigestError as e:
            if not store.shared:
                raise
            # The database went away as this service took the lead: after a pause, it
            # follows again, which says when the database is out of reach.
            self._report_problem("start", str(e))
            stop.wait(FOLLOW_SECONDS)
            return
        self._problems.pop("start", None)
        missed = min(missed_groups.values(), default=None)
        self.leader = store
        scheduler.start()
        try:
            self._note_next_run(store, scheduler)
            log.info(
                "serving: inbox %s (checked every %gs); schedule %s (%s), next run %s;"
                " state %s; delivery: %s",
                self.settings.inbox,
                self.settings.poll_seconds,
                self.settings.schedule,
                self.tz,
                when(self.next_run),
                self.settings.state,
                describe_delivery(self.settings),
            )
            if self.fetch_trigger is not None:
                log.info(
                    "fetching the listing: schedule %s, from %s",
                    self.settings.fetch_schedule,
                    self.settings.fetch_url,
                )
            elif store.shared:
                log.info(
                    "this service does not fetch the listing (no DIGEST_FETCH_SCHEDULE); as it"
                    " leads, no service sharing the state fetches it"
                )
            if missed is not None:
                log.info(
                    "the run due %s was missed while stopped; running once shortly",
                    when(missed),
                )
            poll_at = time.monotonic() + self._interval()
            # Awake every second to check the lead; the inbox is polled when its time comes.
            while not stop.wait(max(0.0, min(poll_at - time.monotonic(), FOLLOW_SECONDS))):
                if not self._still_leads():
                    break
                if time.monotonic() < poll_at:
                    continue
                if self.file_changed.is_set():
                    self._reopen(store, scheduler)
                self._safely(self.poll, store)
                if missed is not None:  # the files found at start are proven complete
                    if self.runs == 0:  # else the schedule has made up for it already
                        for group in missed_groups:
                            run = functools.partial(self.run_scheduled, group)
                            scheduler.add_job(run, id=f"catch-up:{group}")
                    missed = None
                self._safely(self._note_next_run, store, scheduler)
                poll_at = time.monotonic() + self._interval()
        finally:
            scheduler.shutdown(wait=True)  # lets the running job finish
            self.leader = None
        if stop.is_set() and store.still_leading():
            self._safely(self._stopped, store)

    def _stopped(self, store: StateStore) -> None:
        store.set_service_state(stopped_at=self.now().isoformat(), next_run=None)

    # -- several services on one shared state: one leads, all deliver --------------------

    def _follow(self, store: StateStore) -> bool:
        """Deliver the outbox's due digests, and try to take the lead every FOLLOW_SECONDS,
        until this service takes it: False when stopped meanwhile. A database out of reach
        is tried again after RECONNECT_SECONDS, said once when lost and once when back."""
        following, wait = False, RECONNECT_SECONDS[0]
        while not self.stopping.is_set():
            try:
                leads = store.lead()
            except DigestError as e:
                self._unreachable(e, wait)
                if self.stopping.wait(wait):
                    break
                wait = min(2 * wait, RECONNECT_SECONDS[1])
                continue
            wait = RECONNECT_SECONDS[0]
            self._reached(store)
            if leads:
                if following or self._lost_lead:
                    log.info("the leading service is gone: taking the lead")
                self._lost_lead = False
                return True
            if not following:
                log.info(
                    "another digest serve leads on state %s; following: delivering the outbox,"
                    " taking the lead if it stops (checked every %gs)",
                    store.path,
                    self._follow_interval(),
                )
                following = True
                self._safely(self._leader_fetches, store)
            self._safely(self.deliver_due, store)
            self._safely(self.chats_due, store)
            if self.stopping.wait(self._follow_interval()):
                break
        return False

    def _leader_fetches(self, store: StateStore) -> None:
        """On following: say so when this service would fetch the listing but the leader,
        the only one that fetches, has no fetch schedule."""
        if self.fetch_trigger is None or store.service_state().get("fetch_schedule"):
            return
        log.warning(
            "the leading service has no DIGEST_FETCH_SCHEDULE, and only the leader fetches:"
            " the listing is not fetched until this service leads; give every service sharing"
            " the state the same DIGEST_FETCH_SCHEDULE"
        )

    def _still_leads(self) -> bool:
        """Whether this service may act as the leader now: while it serves, only as long as
        its store still holds the lead (outside `serve`, a run made by hand, always). Says
        it once when the lead ended."""
        store = self.leader
        if store is None or store.still_leading():
            return True
        with self._said:
            if not self._lost_lead:
                self._lost_lead = True
                log.warning(
                    "this service no longer leads on state %s: its lead ended with its"
                    " connection to the database; it stops running the schedule and leads"
                    " again when it can",
                    store.path,
                )
        return False

    def _unreachable(self, error: DigestError, wait: float) -> None:
        """Say once that the database is out of reach, until it is back."""
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.error(
                "%s; waiting for it: trying again in %gs, then less and less often (every %gs"
                " at most)",
                error,
                wait,
                RECONNECT_SECONDS[1],
            )

    def _reached(self, store: StateStore) -> None:
        """Say once that the database is back, after it was out of reach."""
        if self._lost_at is not None:
            log.info(
                "state %s can be reached again, after %.0fs",
                store.path,
                time.monotonic() - self._lost_at,
            )
            self._lost_at = None

    def _follow_interval(self) -> float:
        return min(self.settings.poll_seconds, FOLLOW_SECONDS)

    def deliver_due(self, store: StateStore) -> None:
        """Deliver the due digests of a shared outbox, each claimed while it is delivered, so
        that any number of services deliver side by side, none the same digest twice at once."""
        if self.rest.holds(self.clock()):
            return
        report = pipeline.Report()
        retry = pipeline.retry(self.settings)
        with session(self.deliverer):
            while not self.stopping.is_set() and report.halted is None:
                now = self.clock()
                item = store.claim_due(now)
                if item is None:
                    break
                pipeline.send(store, self.deliverer, item, report, now, retry, claimed=True)
        self.rest.after(report.stopped_short, self.clock())
        for line in report.delivered:
            log.info("pending digest delivered: %s", line)

    def _reopen(self, store: StateStore, scheduler: object) -> None:
        """The state file changed under the service (its -wal file deleted, say): every
        new connection then fails with a disk I/O error while the service's own holds the
        old one open. Closing it lets SQLite put the file right; then the run is made again."""
        self.file_changed.clear()
        log.warning(
            "the state file %s changed under the service (its -wal file deleted?); reopening"
            " it; if this repeats, restart the service",
            store.path,
        )
        try:
            store.reopen()
        except DigestError as e:
            log.error("%s", e)
            return
        scheduler.add_job(self.run_scheduled, id="catch-up", replace_existing=True)  # type: ignore[attr-defined]

    def _interval(self) -> float:
        """Until the next poll: shorter while a file is being written, so that it is taken
        soon after its writer closes it."""
        if self.watch.writing:
            return min(self.settings.poll_seconds, WRITER_CHECK_SECONDS)
        return self.settings.poll_seconds

    def _start(self, store: StateStore) -> dict[str | None, datetime]:
        """Record the start, make the first poll, and say which schedules missed a run (by
        group of readers; None: the one reader of DIGEST_TO) while the service was down."""
        now = self.now()
        self.fetching.began = now
        state = store.service_state()
        triggers: dict[str | None, BaseTrigger] = {k: g.trigger for k, g in self.groups.items()}
        triggers = triggers or {None: self.trigger}
        shown = ", ".join(self.groups) or f"{self.settings.schedule} ({self.tz})"
        store.set_service_state(
            pid=str(os.getpid()),
            started_at=now.isoformat(),
            schedule=shown,
            fetch_schedule=self.settings.fetch_schedule.strip() or None,
            stopped_at=None,
            # On the very first start nothing was due before now.
            **{_done_key(k): state.get(_done_key(k)) or now.isoformat() for k in triggers},
        )
        self._safely(self.poll, store)
        missed = {}
        for key, trigger in triggers.items():
            fire = missed_run(trigger, timestamp(state.get(_done_key(key))), now)
            if fire is not None:
                missed[key] = fire
        return missed

    def _note_next_run(self, store: StateStore, scheduler: object) -> None:
        times = [
            job.next_run_time
            for job in scheduler.get_jobs()  # type: ignore[attr-defined]
            if job.id.startswith("digest") and job.next_run_time
        ]
        upcoming = min(times).astimezone(self.tz) if times else None
        if upcoming != self.next_run:
            self.next_run = upcoming
            store.set_service_state(next_run=upcoming.isoformat() if upcoming else None)

    def _safely(self, step: Callable[..., object], *args: object) -> None:
        try:
            step(*args)
        except Exception as e:  # a locked or broken state file: say so once, keep going
            self._report_problem(step.__name__, f"{type(e).__name__}: {e}")
        else:
            self._problems.pop(step.__name__, None)


def _result(report: pipeline.Report) -> str:
    from digest.render import summary

    if report.digest is None:
        return "nothing done"
    if report.failed:
        return "; ".join(report.failed)
    if not report.delivered:
        return "nothing new"
    return report.outcome or f"{summary(report.digest)}; delivered"


def _done_key(group: str | None) -> str:
    """Where the time up to which a schedule's runs are done is kept."""
    return "done_until" if group is None else f"done_until {group}"


@dataclass(frozen=True, slots=True)
class Group:
    """Readers who share a schedule and a time zone: one scheduled job."""

    key: str
    trigger: BaseTrigger


def reader_groups(
    settings: Settings, known: Mapping[str, ReaderState] | None = None
) -> list[tuple[Reader, Group]]:
    """Each reader of the readers file with the group of their schedule (their own, when
    they changed it: `known` holds what the state keeps of them)."""
    found = []
    groups: dict[str, Group] = {}
    for reader in pipeline.active_readers(settings):
        resolved = reader_settings.resolve(reader, settings, (known or {}).get(reader.key))
        tz = zone(resolved.timezone)
        schedule = resolved.schedule
        if schedule != settings.schedule:  # the reader's own: kept within the readers' floor
            try:
                reader_schedule(schedule, tz)
            except ConfigError as e:
                log.warning("reader %s: %s; DIGEST_SCHEDULE is used instead", reader.email, e)
                schedule = settings.schedule
        key = f"{schedule} ({tz})"
        if key not in groups:
            setting = f"{settings.readers}: reader {reader.email}: schedule"
            groups[key] = Group(key, parse_schedule(schedule, tz, setting))
        found.append((reader, groups[key]))
    return found


def describe_delivery(settings: Settings) -> str:
    """Where digests go, in a few words, for the start-up line."""
    from digest import channels

    return channels.describe(settings)


def serve(settings: Settings, deliverer: Deliverer) -> int:
    """Check the service's settings, then run it until stopped. Returns the exit code."""
    settings.require_inbox()
    tz = zone(settings.timezone)
    trigger = parse_schedule(settings.schedule, tz)
    fetching = settings.fetch_schedule.strip()
    fetch_trigger = parse_schedule(fetching, tz, "DIGEST_FETCH_SCHEDULE") if fetching else None
    service = Service(settings, deliverer, trigger, tz, fetch_trigger=fetch_trigger)
    if settings.readers is not None:
        with state.open(settings.state) as store:
            known = {r.key: r for r in store.all_readers()}
        service.groups = {g.key: g for _, g in reader_groups(settings, known)}
        if not service.groups:
            raise DigestError(f"{settings.readers}: no active reader; add one or unpause one")
    return service.serve()
