"""The one orchestrator of a run: outbox retries; inbox -> parse -> match -> record the new
papers; then for each reader (digest.letters): their new papers -> shape -> render (once for
readers who get the same) -> outbox -> deliver -> seen. A backlog is digest.backlog's."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest import inbox, letters
from digest.channels import session
from digest.errors import (
    ConfigError,
    DeliveryError,
    DeliveryStopped,
    ParseError,
    StoreError,
    TransientDeliveryError,
)
from digest.models import Digest, Dump, Outgoing, Paper, Rejected, Thresholds
from digest.retries import FAILURES_IN_A_ROW, IN_FLIGHT, UNRECORDED_LIMIT, backoff
from digest.state import state_files

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Mapping

    from digest.channels.base import Deliverer
    from digest.identity.decide import Decision, Identified
    from digest.interests import Interests
    from digest.readers import Loaded, Reader
    from digest.settings import Settings
    from digest.state.protocol import StateStore

    # The inbox files found complete, with their content hash when it is known already.
    Ready = Mapping[inbox.Candidate, str | None]

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What one run did, for the CLI and the log."""

    digest: Digest | None = None
    delivered: list[str] = field(default_factory=list)  # one description per delivery
    failed: list[str] = field(default_factory=list)
    pending: int = 0  # digests left in the outbox for a later retry
    rejected: list[Rejected] = field(default_factory=list)  # dumps found unreadable this run
    dumps_read: int = 0
    dumps_known: int = 0
    # Why this run delivers nothing more (the state could not record, the channel failed
    # several in a row, delivery was stopped): what is left stays pending, for later.
    halted: str | None = None
    stopped: bool = False  # stopped by a signal: no more digests are made either
    failing: int = 0  # deliveries that failed for now, in a row
    made: list[int] = field(default_factory=list)  # the papers of each digest made this run
    outcome: str = ""  # what the run read and delivered, in one line (see `run_line`)

    @property
    def stopped_short(self) -> bool:
        """Whether delivery stopped short of the outbox for a reason that may go on (not a
        signal): the state could not record, or the mail server failed several in a row."""
        return self.halted is not None and not self.stopped

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An inbox file that could not be read: why, and how it is remembered so that it is
    reported once, not on every run (its content hash, or its name, size and time when it
    could not even be read)."""

    rejected: Rejected
    key: str | None
    path: Path


@dataclass(frozen=True, slots=True)
class Gathered:
    """The inbox files not ingested before, read and parsed."""

    dumps: tuple[Dump, ...]
    unreadable: tuple[Unreadable, ...]
    known: int


def gather(settings: Settings, store: StateStore, ready: Ready | None = None) -> Gathered:
    """Read and parse every inbox file whose content was not ingested before. With `ready`,
    only the files found exactly as listed there (same size and modification time), each
    hashed once: a hash `ready` holds already is not computed again."""
    folder = settings.require_inbox()
    max_bytes = settings.max_dump_mb * 1_000_000
    contents: list[tuple[Path, str, str, bytes, date]] = []
    unreadable: list[Unreadable] = []
    try:
        candidates = inbox.scan(folder, state_files(settings.state))
    except OSError as e:
        raise ConfigError(f"cannot read the inbox {folder}: {e.strerror}") from None
    for candidate in candidates:
        if ready is not None and candidate not in ready:
            continue  # still being written, or changed since it was found complete
        # A name is shown in digests, logs and the state file: printable, whatever its bytes.
        name = inbox.name_of(candidate.path)
        unread_key = f"unread:{name}:{candidate.size}:{candidate.mtime_ns}"
        try:
            data = inbox.read(candidate.path, folder, max_bytes)
        except ParseError as e:
            unreadable.append(Unreadable(Rejected(name, e.why), unread_key, candidate.path))
            continue
        except OSError as e:
            # Not remembered: a permission or a vanished file is worth trying again.
            why = f"cannot read: {e.strerror}"
            unreadable.append(Unreadable(Rejected(name, why), None, candidate.path))
            continue
        except Exception as e:  # whatever one entry is, it costs at most itself
            unreadable.append(Unreadable(inbox.failure(name, e), unread_key, candidate.path))
            continue
        if ready is not None and len(data) != candidate.size:
            continue  # written to while being read: wait until it is complete again
        from digest import formats  # its parsers' patterns cost start-up: only with a file

        sha = ready.get(candidate) if ready is not None else None
        written = datetime.fromtimestamp(candidate.mtime_ns / 1e9, UTC).date()
        contents.append((candidate.path, name, sha or formats.sha256(data), data, written))

    known = store.known_dumps(
        [sha for _, _, sha, _, _ in contents] + [u.key for u in unreadable if u.key]
    )
    unreadable = [u for u in unreadable if u.key not in known]
    dumps: list[Dump] = []
    taken: set[str] = set()
    for path, name, sha, data, written in contents:
        if sha in known or sha in taken:
            continue  # the same content again, under this name or another
        taken.add(sha)
        try:
            # The file's day dates a text listing that gives its day without a year.
            dump = formats.parse(data, name, sha, written)
        except ParseError as e:
            unreadable.append(Unreadable(Rejected(name, e.why), sha, path))
            continue
        except Exception as e:  # a dump the parser cannot cope with costs only itself
            unreadable.append(Unreadable(inbox.failure(name, e), sha, path))
            continue
        dumps.append(dump)
        for warning in dump.warnings:
            log.warning("%s: %s", name, warning)
    for u in unreadable:
        log.warning("%s: %s", u.rejected.file, u.rejected.reason)
    return Gathered(tuple(dumps), tuple(unreadable), len(contents) - len(taken))


def set_aside(unreadable: Iterable[Unreadable], folder: Path) -> None:
    """Move files that cannot be read to the inbox `folder`'s rejected/ (which scans skip), so
    that what is left in the inbox is what digest reads. A file that failed for a reason
    that may pass (a permission, say) stays, to be tried again."""
    for u in unreadable:
        if u.key is None or not (u.path.is_file() or u.path.is_symlink()):
            continue  # a FIFO or device is left alone; it is remembered, not moved
        try:
            tag = str(u.path.lstat().st_mtime_ns)
        except OSError:
            continue  # gone already
        inbox.set_aside(u.path, folder, inbox.REJECTED, tag)


def decide(
    papers: Sequence[Paper], store: StateStore, thresholds: Thresholds | None = None
) -> Decision:
    """Which of these papers are new: each identified once, its exact keys and candidates
    looked up in the store, then the pure rule of `identity.decide`."""
    from digest.identity import decide, index

    identified = [decide.identify(p) for p in papers]
    seen = store.lookup(k for p in identified for k in p.keys)
    exact = [[seen[k].id for k in p.keys if k in seen][:1] for p in identified]
    candidates = index.candidates(store, [p.grams for p in identified], exact)
    return decide.decide(identified, seen, candidates, thresholds)


def build(
    gathered: Gathered,
    store: StateStore,
    now: datetime,
    wants: Interests | None = None,
    thresholds: Thresholds | None = None,
    *,
    show_updated: bool = False,
    rejected: Sequence[Rejected],
) -> tuple[Digest, Decision | None]:
    """Decide which of the gathered papers are new and make the Digest, shaped by the
    reader's interests (highlights first, exclusions left out, a cap on full entries); with
    `show_updated`, it also lists the papers seen before whose abstract changed. It names
    the dumps that could not be read: `rejected`, this run's and earlier ones'. With the digest
    comes the decision, which knows each paper's identity."""
    papers = [p for d in gathered.dumps for p in d.papers]
    unreadable = tuple(rejected)
    if not papers:  # nothing to decide: the matcher (numpy, rapidfuzz) is not even loaded
        empty = Digest(
            papers=(),
            rejected=unreadable,
            dumps=gathered.dumps,
            created=now,
            highlight=wants.highlight if wants else (),
        )
        return empty, None
    from digest import interests
    from digest.identity.decide import enrich

    wants = wants or interests.Interests()
    decision = decide(papers, store, thresholds)
    repeats = (s.paper for s in decision.skipped if s.matched is None)
    decided = Digest(
        papers=(),
        skipped=decision.skipped,
        updated=decision.updated if show_updated else (),
        rejected=unreadable,
        dumps=gathered.dumps,
        created=now,
    )
    return letters.shaped(decided, enrich(decision.new, repeats, decision.of), wants), decision


def retry(settings: Settings) -> timedelta:
    """The wait before a digest refused for now is first tried again (DIGEST_RETRY_SECONDS)."""
    return timedelta(seconds=settings.retry_seconds)


def send(
    store: StateStore,
    deliverer: Deliverer,
    item: Outgoing,
    report: Report,
    now: datetime,
    first_retry: timedelta = timedelta(minutes=1),
    *,
    claimed: bool = False,
) -> None:
    """Deliver one digest of the outbox, the attempt recorded before and its outcome after.

    The attempt goes first, with when the digest may be tried again if no outcome follows
    (IN_FLIGHT after it, at most: the worker died mid-delivery, and another takes it over
    once the dead worker's claim has gone with it): a delivery whose outcome could not be
    recorded is not tried again before then, and a digest whose last attempts all ended so
    is held as failed rather than sent again. When the attempt cannot be recorded, nothing
    is sent. A transient failure keeps the digest pending for `first_retry` doubled for each
    attempt made; a permanent one marks it failed, never its papers seen. Each failure is
    logged as it happens. Once the state could not record, or several deliveries in a row
    failed for now, or delivery was stopped, the run's other digests are left pending,
    untried. On a shared state the digest is claimed first (unless `claimed`: the caller
    did), and left alone when another worker holds it."""
    if report.halted is not None:
        report.pending += 1
        return
    if not claimed and store.shared and not store.claim(item.id):
        report.delivered.append(f"digest {item.id} is being delivered by another service")
        return
    wait = backoff(first_retry, item.attempts)
    try:
        unrecorded = store.attempt(item.id, now + min(wait, IN_FLIGHT))
    except StoreError as e:
        return _halt(report, f"digest {item.id} not sent: its attempt could not be recorded ({e})")
    if unrecorded >= UNRECORDED_LIMIT:
        return _hold(store, item, report, unrecorded)
    tried = _try(store, deliverer, item, now, now + wait)
    try:
        tried.record()
    except StoreError as e:
        what = tried.failure or f"digest {item.id} was delivered ({tried.description})"
        return _halt(
            report,
            f"{what}, but this could not be recorded ({e}); it is not tried again for"
            f" {min(wait, IN_FLIGHT).total_seconds():g} s at least, and sent once more at"
            " most",
        )
    if not tried.failure:
        report.failing = 0
        report.delivered.append(tried.description)
        from digest.channels.base import Followed

        if isinstance(deliverer, Followed):  # the archive, built from the state once sent
            deliverer.after_sent(store, store.get(item.id) or item)
        return
    report.failed.append(tried.failure)
    # At once: a run killed later has said it all the same.
    log.log(logging.WARNING if tried.transient else logging.ERROR, "%s", tried.failure)
    report.failing = report.failing + 1 if tried.transient else 0
    if tried.transient:
        report.pending += 1
    if tried.stopped:
        report.stopped, report.halted = True, "delivery was stopped"
    elif report.failing >= FAILURES_IN_A_ROW:
        _halt(
            report,
            f"{report.failing} deliveries in a row failed for now; the other digests of this"
            " run stay pending, tried again later",
        )


def retry_kept(store: StateStore, deliverer: Deliverer, now: datetime, *, every: bool) -> None:
    """Send what the deliverer keeps of its own that is due (each reader's chat messages;
    with `every`, each one not taken yet). A state that cannot record it is logged, and
    the run goes on: the mail comes first."""
    # Retrying (digest.channels.base), asked by name: loading the protocol loads typing,
    # which cron would pay on every run.
    retry_due = getattr(deliverer, "retry_due", None)
    if retry_due is not None:
        try:
            retry_due(store, now, every=every)
        except StoreError as e:
            log.error("chat messages kept for later not sent now: %s", e)


def resend(
    settings: Settings,
    store: StateStore,
    deliverer: Deliverer,
    items: Iterable[Outgoing],
    now: datetime,
) -> Report:
    """Deliver these digests of the outbox again (`digest resend`), exactly as stored: each
    is put back in the outbox first, failed or sent ones too, then sent as a run sends."""
    report = Report()
    for item in items:
        store.requeue(item.id)
        send(store, deliverer, item, report, now, retry(settings))
    return report


def failed_of(store: StateStore, reader: int) -> list[Outgoing]:
    """A reader's failed digests, oldest first, whole (to be delivered again)."""
    theirs = [d.id for d in store.outgoing(status="failed", bare=True) if d.reader == reader]
    return [d for d in map(store.get, theirs) if d is not None]


@dataclass(frozen=True, slots=True)
class _Tried:
    """What one delivery did, and how the outbox records it."""

    record: Callable[[], None]
    description: str = ""  # delivered: how
    failure: str = ""  # not delivered: the line that says why
    transient: bool = False  # worth trying again
    stopped: bool = False  # delivery was stopped (a signal)


def _try(
    store: StateStore, deliverer: Deliverer, item: Outgoing, now: datetime, retry_at: datetime
) -> _Tried:
    """Deliver one digest, and say how to record what happened."""
    try:
        description = deliverer.deliver(item)
    except TransientDeliveryError as e:
        stopped = isinstance(e, DeliveryStopped)  # due again at once: for the next start
        record = functools.partial(store.mark_retry, item.id, str(e), now if stopped else retry_at)
        why = f"digest {item.id} not delivered yet, will retry: {e}"
        return _Tried(record, failure=why, transient=True, stopped=stopped)
    except DeliveryError as e:
        record = functools.partial(store.mark_failed, item.id, str(e))
        return _Tried(record, failure=f"digest {item.id} failed: {e}")
    return _Tried(functools.partial(store.mark_sent, item.id, description, at=now), description)


def _halt(report: Report, why: str) -> None:
    """Deliver nothing more in this run, and say why once."""
    report.failed.append(why)
    report.halted = why
    log.error("%s", why)


def _hold(store: StateStore, item: Outgoing, report: Report, unrecorded: int) -> None:
    """Hold a digest whose last attempts all ended with no outcome recorded: it may have
    reached its reader already, so it is marked failed, for `digest resend`, not sent."""
    why = (
        f"digest {item.id} held, not sent again: the outcome of its last {unrecorded}"
        " deliveries could not be recorded (the process stopped, or the state could not be"
        f" written), and one may have reached its reader; see the log, then `digest resend"
        f" {item.id}` to send it once more"
    )
    try:
        store.mark_failed(item.id, why)
    except StoreError as e:
        return _halt(report, f"digest {item.id} not sent: it cannot be held ({e})")
    report.failed.append(why)
    log.error("%s", why)


def run_once(
    settings: Settings,
    store: StateStore,
    deliverer: Deliverer,
    now: datetime,
    *,
    dry_run: bool = False,
    retry_all: bool = True,
    ready: Ready | None = None,
    readers: Sequence[Reader] | None = None,
    period: str | None = None,
) -> Report:
    """Retry what the outbox holds, record the new papers of the inbox, then make, store and
    deliver each reader's digest of the papers new to them.

    A paper counts as seen by a reader only once their digest has been delivered. With
    `dry_run`, the digests are rendered and delivered but nothing is recorded. Runs on the
    same state take turns. With `ready`, only those inbox files are read (the service passes
    the files it has seen complete, with the content hash of those it has read already);
    otherwise every file. `readers` are those to make digests for (by default every reader,
    paused ones aside); `period` names the scheduled run, so that a reader never gets two
    digests for one period.
    """
    report = Report()
    roll = roll_call(settings)
    # A table of the readers file left out costs only its reader, and fails the run; said
    # now, as every failure is, so that a run killed later has said it too.
    for rejection in roll.rejected:
        report.failed.append(rejection.text)
        log.error("%s", rejection.text)
    audience = list(readers) if readers is not None else list(roll.readers)
    with store.lock():
        if not dry_run:
            for item in store.outgoing(status="pending", due=None if retry_all else now):
                delivered = len(report.delivered)
                send(store, deliverer, item, report, now, retry(settings))
                if len(report.delivered) > delivered:
                    log.info("digest %s, kept from before: %s", item.id, report.delivered[-1])
            if report.halted is None:
                retry_kept(store, deliverer, now, every=retry_all)

        if not roll.readers:
            # Papers read now would be offered to nobody, and a reader added later starts
            # after them: the inbox waits for a reader instead.
            log.warning(
                "no reader in %s: the inbox is left unread until there is one", settings.readers
            )
            return report
        # A reader new to the state joins before this run's papers, so that they are new to
        # them: every reader of the file, whether this run is for them or not, and those of
        # tables left out this run, so that once fixed they get what was listed meanwhile.
        own = _state_of_inbox(settings, store)
        joining = roll.waiting() | {r.key: r.since for r in [*roll.readers, *audience]}
        states = store.join(joining)
        gathered = gather(settings, store, ready)
        # Every dump that could not be read is named in the next digest delivered, however
        # it arrived: those of earlier runs that no delivered digest named yet, then these.
        told = store.untold_rejections()
        told += [(u.rejected, u.key) for u in gathered.unreadable if u.key]
        base, decision = build(
            gathered,
            store,
            now,
            None,
            settings.thresholds,
            show_updated=settings.show_updated,
            rejected=[r for r, _ in told] + [u.rejected for u in gathered.unreadable if not u.key],
        )
        report.digest = base
        report.dumps_read = len(gathered.dumps)
        report.dumps_known = gathered.known
        report.rejected = [u.rejected for u in gathered.unreadable]
        of = decision.of if decision is not None else _identify
        fresh = list(base.new_papers)
        if not dry_run:
            if settings.rejected == "move":
                set_aside(gathered.unreadable, settings.require_inbox())
            # A paper seen before under its title may come back under its arXiv id alone.
            known = [(s.matched.id, of(s.paper).keys) for s in base.skipped if s.matched]
            # Shown as updated once: the revised abstract is what later listings compare with.
            revised = [(s.matched.id, of(s.paper)) for s in base.updated if s.matched]
            store.record(gathered.dumps, told, [of(p) for p in fresh], known=known, revised=revised)
            fresh = []  # recorded: offered from the catalogue, like earlier ones
            if gathered.dumps and own is not None:
                state = settings.state
                where = state.absolute() if isinstance(state, Path) else state
                inbox.mark(settings.require_inbox(), own, str(where))

        stored = 0  # digests stored (and sent) this run
        before = len(report.delivered)  # those of the outbox, kept from before, delivered above
        with session(deliverer):  # readers' messages follow each other: one connection
            for chunk in letters.digests(
                settings, store, audience, states, base, fresh, deliverer.needs
            ):
                report.failed.extend(chunk.failed)
                if chunk.digest is not None:
                    report.digest = chunk.digest
                if dry_run:
                    report.delivered.extend(deliverer.deliver(item) for item in chunk.made)
                    continue
                if chunk.moves:
                    store.advance(chunk.moves)
                made = chunk.made
                batch = store.enqueue(made, [key for _, key in told], period) if made else []
                for item in batch:
                    send(store, deliverer, item, report, now, retry(settings))
                report.made.extend(item.paper_count for item in batch)
                stored += len(batch)
                if report.stopped:
                    break  # the readers left get these papers from the next run
        if dry_run:
            return report
        if settings.readers is not None and not report.stopped:
            from digest import public  # the archive's digest, made for no one

            report.failed.extend(public.publish(settings, store, states, base, now))
        if gathered.dumps or stored:
            read = _summary(base) if gathered.dumps else "no new dump"
            report.outcome = f"{read}; {run_line(report, len(audience), before)}"
            log.info("%s", report.outcome)
        elif gathered.unreadable:
            log.info(
                "nothing new: %d unread %s in %s could not be read; the next digest names %s",
                len(gathered.unreadable),
                "file" if len(gathered.unreadable) == 1 else "files",
                settings.inbox,
                "it" if len(gathered.unreadable) == 1 else "them",
            )
        else:
            log.info("nothing new: no unread dumps in %s", settings.inbox)
        if stored:
            store.prune(now - timedelta(days=settings.keep_days))
    return report


def _state_of_inbox(settings: Settings, store: StateStore) -> str | None:
    """This state's id, when the inbox should be marked with it (None: marked so already).
    A state that has read nothing yet, beside an inbox that another state read (its mark
    says which), is refused in one line when it would mail: every paper there would be new
    to it, and mailed again. (Files and previews of a second state harm no one.)"""
    folder = settings.require_inbox()
    own = store.service_state().get("state_id")
    if own is None:
        import secrets

        own = secrets.token_hex(8)
        store.set_service_state(state_id=own)
    found = inbox.marked(folder)
    if found is None or found[0] != own:
        if found is not None and settings.deliver == "smtp" and not store.counts()["dumps"]:
            where = found[1] or "another state"
            raise ConfigError(
                f"the state {settings.state} has read nothing yet, but the inbox {folder} was"
                f" read with {where}: every paper there would be mailed again. Move that state"
                f" here with `digest state copy {where} {settings.state}`, or, to start afresh"
                f" on purpose, delete {folder / inbox.MARK}"
            )
        return own
    return None


def run_line(report: Report, readers: int, before: int = 0) -> str:
    """What a run made and delivered, in a few words: the digest of its one reader and how
    it went, or how many digests for how many readers, of how many papers, and how many of
    them were delivered (`before`: deliveries of the report that were not of this run)."""
    made = report.made
    if not made:
        return "nothing new to deliver"
    papers = (
        f"{made[0]} {'paper' if made[0] == 1 else 'papers'}"
        if min(made) == max(made)
        else f"{min(made)} to {max(made)} papers"
    )
    done = report.delivered[before:]
    if len(made) == 1:
        return f"a digest of {papers}: {done[0] if done else 'not delivered yet'}"
    left = len(made) - len(done)
    return f"{len(made)} digests for {readers} readers, {papers} each: {len(done)} delivered" + (
        f", {left} not yet" if left else ""
    )


def roll_call(settings: Settings) -> Loaded:
    """The readers of the readers file (DIGEST_READERS), paused ones too (they join the
    state, and get nothing until resumed), with its tables left out; without one, the one
    reader of DIGEST_TO."""
    from digest import readers

    if settings.readers is None:
        return readers.Loaded((readers.default_reader(settings),), ())
    return readers.load(settings.readers)


def active_readers(settings: Settings) -> list[Reader]:
    """The readers of roll_call; each table left out is logged and costs only itself."""
    loaded = roll_call(settings)
    for rejection in loaded.rejected:
        log.error("%s", rejection.text)
    return list(loaded.readers)


def _identify(paper: Paper) -> Identified:
    from digest.identity.decide import identify

    return identify(paper)


def _summary(digest: Digest) -> str:
    from digest.render import summary

    return summary(digest)
