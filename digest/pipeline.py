"""The one orchestrator: inbox -> parse -> match -> record the new papers; then for each
reader: their new papers -> shape -> render (once for readers who get the same) -> outbox ->
deliver -> seen."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from digest import inbox
from digest.errors import (
    ConfigError,
    DeliveryError,
    DigestError,
    ParseError,
    TransientDeliveryError,
)
from digest.models import Digest, Dump, Outgoing, Paper, ReaderState, Rejected, Thresholds
from digest.outputs import FORMATS
from digest.state import LONGEST_BACKOFF, state_files

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Mapping, Set
    from email.headerregistry import Address

    from digest.channels.base import Deliverer
    from digest.config import Settings
    from digest.envelope import Marks
    from digest.identity.decide import Decision, Identified
    from digest.interests import Interests
    from digest.readers import Reader, Resolved
    from digest.render import Renderer
    from digest.render.formats import Fragments
    from digest.render.mail import MailOptions
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
    contents: list[tuple[Path, str, str, bytes]] = []
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
            unreadable.append(Unreadable(_failure(name, e), unread_key, candidate.path))
            continue
        if ready is not None and len(data) != candidate.size:
            continue  # written to while being read: wait until it is complete again
        from digest import formats  # its parsers' patterns cost start-up: only with a file

        sha = ready.get(candidate) if ready is not None else None
        contents.append((candidate.path, name, sha or formats.sha256(data), data))

    known = store.known_dumps(
        [sha for _, _, sha, _ in contents] + [u.key for u in unreadable if u.key]
    )
    unreadable = [u for u in unreadable if u.key not in known]
    dumps: list[Dump] = []
    taken: set[str] = set()
    for path, name, sha, data in contents:
        if sha in known or sha in taken:
            continue  # the same content again, under this name or another
        taken.add(sha)
        try:
            dump = formats.parse(data, name, sha)
        except ParseError as e:
            unreadable.append(Unreadable(Rejected(name, e.why), sha, path))
            continue
        except Exception as e:  # a dump the parser cannot cope with costs only itself
            unreadable.append(Unreadable(_failure(name, e), sha, path))
            continue
        dumps.append(dump)
        for warning in dump.warnings:
            log.warning("%s: %s", name, warning)
    for u in unreadable:
        log.warning("%s: %s", u.rejected.file, u.rejected.reason)
    return Gathered(tuple(dumps), tuple(unreadable), len(contents) - len(taken))


def _failure(name: str, error: Exception) -> Rejected:
    """An unexpected failure on one inbox file, as its rejection (the details at debug level)."""
    import traceback

    where = traceback.extract_tb(error.__traceback__)[-1:]
    if where:  # where it happened, for a bug report, without a traceback in the log
        log.debug("%s: %s at %s:%s", name, type(error).__name__, where[0].filename, where[0].lineno)
    return Rejected(name, f"cannot be read ({type(error).__name__}: {error})")


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
            highlight=tuple(t.pattern for t in wants.highlight) if wants else (),
        )
        return empty, None
    from digest import interests
    from digest.identity.decide import enrich

    wants = wants or interests.Interests()
    decision = decide(papers, store, thresholds)
    repeats = (s.paper for s in decision.skipped if s.matched is None)
    chosen = interests.select(enrich(decision.new, repeats, decision.of), wants)
    digest = Digest(
        papers=chosen.full,
        skipped=decision.skipped,
        updated=decision.updated if show_updated else (),
        rejected=unreadable,
        dumps=gathered.dumps,
        created=now,
        more=chosen.more,
        excluded=chosen.excluded,
        highlights=chosen.highlights,
        highlight=tuple(t.pattern for t in wants.highlight),
        reasons=chosen.reasons,
        scores=chosen.scores,
        low_scored=chosen.low,
    )
    return digest, decision


def outgoing(
    digest: Digest,
    settings: Settings,
    hostname: str | None = None,
    *,
    needs: Set[str] = frozenset({"html", "text", "markdown", "json", "eml"}),
    options: MailOptions | None = None,
    message_id: str | None = None,
    fragments: Fragments | None = None,
) -> Outgoing:
    """Render a digest into the form the outbox keeps and deliverers take: what `needs`
    names (formats, and "eml" for the complete mail message, made once so that every retry
    sends the same bytes with the same Message-ID); the rest is left empty. `options` are
    the mail settings' by default; `fragments` a run's cache of papers' fragments, shared
    by its digests (see render.Renderer)."""
    from email.utils import make_msgid

    from digest import render

    if message_id is None:
        message_id = make_msgid("digest", domain=_domain(settings, hostname))
    renderer = render.Renderer(
        digest, templates=settings.templates, subject=settings.subject, fragments=fragments
    )
    try:
        if options is None:
            options = mail_options(settings, recipients=settings.recipients)
        return _rendered(renderer, options, message_id, needs)
    except Exception as e:  # a user's template, broken: one line naming it
        if (failure := render.template_failure(e)) is not None:
            raise failure from None
        raise


def _domain(settings: Settings, hostname: str | None = None) -> str:
    """The domain of the Message-IDs: the sender's, else this host's name."""
    import socket

    sender = settings.sender
    # Not getfqdn(): a DNS lookup, made while the run lock is held.
    domain = hostname or (sender.domain if sender else None) or socket.gethostname()
    return domain or "digest.invalid"


def mail_options(
    settings: Settings,
    *,
    unsubscribe: str | None = None,
    recipients: tuple[Address, ...] = (),
) -> MailOptions:
    """What the mail settings say about a message; by default with no To (each reader's is
    put in when it is addressed to them) and DIGEST_UNSUBSCRIBE as it is."""
    from digest.render.mail import MailOptions

    link = settings.unsubscribe if unsubscribe is None else unsubscribe
    return MailOptions(settings.sender, recipients, link, settings.list_id)


def _rendered(
    renderer: Renderer, options: MailOptions, message_id: str, needs: Set[str]
) -> Outgoing:
    from digest.render import mail

    composed = mail.compose(renderer, options, message_id) if "eml" in needs else None
    # Files and stdout get the whole digest; the mail keeps to its size budget and attaches
    # what does not fit (see digest.render.mail). When all of it fits, they are one.
    whole = composed.layout.complete if composed is not None else False

    def part(fmt: str) -> str:
        if whole and composed is not None and fmt in ("html", "text"):
            return str(getattr(composed, fmt))
        return renderer.render(fmt)

    digest = renderer.digest
    return Outgoing(
        id=0,
        created=digest.created,
        status="pending",
        message_id=message_id,
        subject=renderer.view.subject,
        paper_count=digest.stats.new,
        parts={fmt: part(fmt) for fmt in FORMATS if fmt in needs},
        eml=composed.eml if composed is not None else None,
    )


def lease(settings: Settings) -> timedelta:
    """How long a worker holds a digest it delivers on a shared state (DIGEST_LEASE_SECONDS)."""
    return timedelta(seconds=settings.lease_seconds)


def retry(settings: Settings) -> timedelta:
    """The wait before a digest refused for now is first tried again (DIGEST_RETRY_SECONDS)."""
    return timedelta(seconds=settings.retry_seconds)


def send(
    store: StateStore,
    deliverer: Deliverer,
    item: Outgoing,
    report: Report,
    now: datetime,
    lease: timedelta | None,
    first_retry: timedelta = timedelta(minutes=1),
) -> None:
    """Deliver one digest of the outbox and record the outcome. A transient failure keeps it
    pending with a backoff from `now`, `first_retry` doubled for each attempt made; a
    permanent one marks it failed, never its papers seen. On a shared state the digest is
    claimed for `lease` first (None: the caller claimed it), and left alone when another
    worker holds it."""
    if lease is not None and store.shared and not store.claim(item.id, lease):
        report.delivered.append(f"digest {item.id} is being delivered by another service")
        return
    try:
        description = deliverer.deliver(item)
    except TransientDeliveryError as e:
        backoff = min(first_retry * 2 ** min(item.attempts, 10), LONGEST_BACKOFF)
        store.mark_retry(item.id, str(e), now + backoff)
        report.pending += 1
        report.failed.append(f"digest {item.id} not delivered yet, will retry: {e}")
    except DeliveryError as e:
        store.mark_failed(item.id, str(e))
        report.failed.append(f"digest {item.id} failed: {e}")
    else:
        store.mark_sent(item.id, description, at=now)
        report.delivered.append(description)
        from digest.channels.base import Followed

        if isinstance(deliverer, Followed):  # the archive, built from the state once sent
            deliverer.after_sent(store, store.get(item.id) or item)


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
    audience = list(readers) if readers is not None else active_readers(settings)
    with store.lock():
        if not dry_run:
            for item in store.outgoing(status="pending", due=None if retry_all else now):
                delivered = len(report.delivered)
                send(store, deliverer, item, report, now, lease(settings), retry(settings))
                if len(report.delivered) > delivered:
                    log.info("digest %s, kept from before: %s", item.id, report.delivered[-1])

        # A reader new to the state joins before this run's papers, so that they are new to
        # them: every reader of the file, whether this run is for them or not.
        everyone = audience if readers is None else active_readers(settings) + list(audience)
        states = store.join({r.key: r.since for r in everyone}) if everyone else {}
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

        stored = 0  # digests stored (and sent) this run
        # Readers' messages follow each other: a deliverer that can keeps its connection.
        session = getattr(deliverer, "session", contextlib.nullcontext)
        with session():
            for made, moves in _digests(
                settings, store, audience, states, base, fresh, deliverer.needs, report
            ):
                if dry_run:
                    report.delivered.extend(deliverer.deliver(item) for item in made)
                    continue
                if moves:
                    store.advance(moves)
                batch = store.enqueue(made, [key for _, key in told], period) if made else []
                for item in batch:
                    send(store, deliverer, item, report, now, lease(settings), retry(settings))
                stored += len(batch)
        if dry_run:
            return report
        if gathered.dumps or stored:
            shown = "; ".join(report.delivered[-stored:] if stored else [])
            log.info("%s; %s", _summary(base), _outcome(len(audience), stored, shown))
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


def _outcome(readers: int, made: int, shown: str) -> str:
    if not made:
        return "nothing new to deliver"
    if readers == 1:
        return shown or "not delivered"
    return f"digests made for {made} of {readers} readers"


def active_readers(settings: Settings) -> list[Reader]:
    """The readers of the readers file (DIGEST_READERS), paused ones too (they join the
    state, and get nothing until resumed); without one, the one reader of DIGEST_TO. A bad
    entry of the file is logged and costs only itself."""
    from digest import readers

    if settings.readers is None:
        return [readers.default_reader(settings)]
    loaded = readers.load(settings.readers)
    for error in loaded.errors:
        log.error("%s", error)
    return list(loaded.readers)


CHUNK = 25  # readers' digests made, stored and delivered at a time: memory stays flat


def _digests(
    settings: Settings,
    store: StateStore,
    audience: Sequence[Reader],
    states: Mapping[str, ReaderState],
    base: Digest,
    fresh: Sequence[Paper],
    needs: Set[str],
    report: Report,
) -> Iterator[tuple[list[Outgoing], list[tuple[int, int, int]]]]:
    """Each reader's digest of the papers new to them (after their position), shaped by
    their settings, a chunk of readers at a time; readers with nothing new are moved on
    instead. A digest is rendered once for all readers with the same settings and the same
    new papers: readers are taken group by group, so only one rendering is kept at a time."""
    end = store.end()
    offered: dict[int, list[Paper]] = {}  # the new papers after a position
    chosen = []
    fragments: Fragments = {}  # each paper drawn once a run, whatever the number of readers
    for reader in audience:
        state = states[reader.key]
        resolved = resolve(reader, settings, state)
        if not resolved.paused:  # paused: nothing for now, and nothing missed
            chosen.append((reader, state, resolved))
    chosen.sort(key=lambda c: (repr(c[2].signature()), c[1].upto))  # stable: file order within
    group: tuple[object, ...] | None = None
    letter: Letter | None = None
    # Readers whose settings differ may still get the same digest (an exclusion that matches
    # nothing, a cap above the count): the last renderings, by what they show.
    letters: OrderedDict[tuple[object, ...], Letter] = OrderedDict()
    made: list[Outgoing] = []
    moves: list[tuple[int, int, int]] = []
    for reader, state, resolved in chosen:
        if state.upto not in offered:
            offered[state.upto] = [p for _, p in store.offered(state.upto, end)] + list(fresh)
        papers = offered[state.upto]
        liked = store.likes(state.id)  # the papers they liked or disliked rank theirs too
        if group != (resolved.signature(), state.upto, tuple((i, v) for i, _, v in liked)):
            group = (resolved.signature(), state.upto, tuple((i, v) for i, _, v in liked))
            # No interests to read when there is nothing to shape: start-up stays light.
            if papers:
                likes = tuple((p, v) for _, p, v in liked)
                digest = _shaped(base, papers, _interests(resolved, likes))
            else:
                digest = dataclasses.replace(base, papers=(), more=(), excluded=(), highlights={})
            if report.digest is base:
                report.digest = digest
            letter = None
            if digest.stats.new or digest.updated or settings.send_empty:
                shows = _shows(digest, resolved.format)
                letter = letters.get(shows)
                if letter is None:
                    letter = letters[shows] = _letter(
                        digest, settings, resolved.format, needs, fragments
                    )
                    if len(letters) > LETTERS:
                        letters.popitem(last=False)
                letters.move_to_end(shows)
        if letter is None:  # nothing for them: what they excluded is done with at once
            if end > state.upto:
                moves.append((state.id, state.upto, end))
            continue
        item = _addressed(settings, reader, letter, state.token, needs)
        made.append(dataclasses.replace(item, reader=state.id, after=state.upto, upto=end))
        if len(made) >= CHUNK:
            yield made, moves
            made, moves = [], []
    if made or moves:
        yield made, moves


LETTERS = 16  # renderings kept for readers with other settings and the same digest


def _shows(digest: Digest, form: str) -> tuple[object, ...]:
    """What a reader's digest shows, as a key: two readers with equal keys get equal
    digests. Papers are the run's own objects, compared by identity."""
    return (
        form,
        tuple(map(id, digest.papers)),
        tuple(map(id, digest.more)),
        tuple(map(id, digest.excluded)),
        tuple((id(p), terms) for p, terms in digest.highlights.items()),
        tuple(p.pattern for p in digest.highlight),
        tuple((id(p), why) for p, why in digest.reasons.items()),
        tuple((id(p), score) for p, score in digest.scores.items()),
    )


@dataclass(frozen=True, slots=True)
class Letter:
    """A digest rendered once for the readers it is for, with stand-ins for what is each
    one's own (see digest.envelope), and how many token stand-ins its message must hold."""

    digest: Digest
    item: Outgoing
    marks: Marks
    expected: int
    format: str


# What a reader may change themselves (the web pages), over the readers file's values.
OWN = ("highlight", "exclude", "interests", "schedule")


def resolve(reader: Reader, settings: Settings, state: ReaderState | None) -> Resolved:
    """What a run uses for a reader: the readers file over the DIGEST_* settings, and what
    they changed themselves (kept in the state) over both. Unsubscribed counts as paused."""
    from digest import readers

    resolved = readers.effective(reader, settings)
    prefs = state.prefs if state is not None else {}
    if not prefs:
        return resolved
    own = {k: str(prefs[k]) for k in OWN if isinstance(prefs.get(k), str)}
    if "paused" in prefs or prefs.get("unsubscribed"):
        own["paused"] = bool(prefs.get("paused")) or bool(prefs.get("unsubscribed"))  # type: ignore[assignment]
    return dataclasses.replace(resolved, **own)  # type: ignore[arg-type]


def _shaped(base: Digest, papers: Sequence[Paper], wants: Interests) -> Digest:
    """The run's digest made a reader's: their new papers, shaped by their interests."""
    from digest import interests

    chosen = interests.select(papers, wants)
    return dataclasses.replace(
        base,
        papers=chosen.full,
        more=chosen.more,
        excluded=chosen.excluded,
        highlights=chosen.highlights,
        highlight=tuple(t.pattern for t in wants.highlight),
        reasons=chosen.reasons,
        scores=chosen.scores,
        low_scored=chosen.low,
    )


def _letter(
    digest: Digest, settings: Settings, form: str, needs: Set[str], fragments: Fragments
) -> Letter:
    """A digest rendered once for every reader it is for: no To header, stand-ins for the
    Message-ID and the token."""
    from digest.envelope import Marks, held

    marks = Marks.new()
    options = mail_options(settings, unsubscribe=marks.unsubscribe(settings.unsubscribe))
    message_id = marks.message_id(_domain(settings))
    item = _message(digest, settings, form, needs, options, message_id, fragments)
    return Letter(digest, item, marks, held(item.eml, marks.token), form)


def _message(
    digest: Digest,
    settings: Settings,
    form: str,
    needs: Set[str],
    options: MailOptions,
    message_id: str,
    fragments: Fragments | None = None,
) -> Outgoing:
    """The digest rendered, its message in the reader's form (HTML with its text, or text)."""
    item = outgoing(
        digest, settings, needs=needs, options=options, message_id=message_id, fragments=fragments
    )
    if form != "text" or item.eml is None:
        return item
    from email.utils import format_datetime

    from digest.render import mail

    msg = mail.message(
        subject=item.subject,
        text=item.part("text"),
        html="",
        options=options,
        message_id=item.message_id,
        date=format_datetime(item.created),
        default_domain=message_id.rpartition("@")[2].rstrip(">") or "localhost",
    )
    return dataclasses.replace(item, eml=msg.as_bytes())


def _addressed(
    settings: Settings, reader: Reader, letter: Letter, given: str | None, needs: Set[str]
) -> Outgoing:
    """The rendered digest as this reader's message: only their address, their own
    Message-ID and token (`given`)."""
    from digest import envelope

    to = settings.recipients if reader.key == "" else (reader.address(),)
    marks = letter.marks
    token = given or marks.token
    ident = envelope.ident()
    if envelope.fits(letter.item, marks, letter.expected):
        return envelope.addressed(letter.item, marks, to=to, ident=ident, token=token)
    # An encoding split a stand-in: this reader's message is rendered whole.
    options = mail_options(
        settings, unsubscribe=settings.unsubscribe.replace("{token}", token), recipients=to
    )
    domain = _domain(settings)
    return _message(letter.digest, settings, letter.format, needs, options, f"<{ident}@{domain}>")


@dataclass(frozen=True, slots=True)
class Ingested:
    """What a backlog ingest did."""

    files: int
    listed: int
    recorded: int
    known: int  # papers already in the store, or repeated in the backlog, by exact key
    rejected: tuple[Rejected, ...]


Signed = list["Identified"]  # each paper of a dump, identified


def _prepare(path: Path, max_bytes: int) -> tuple[Dump | Rejected, Signed]:
    """Read, parse and identify one dump: the CPU-heavy part of an ingest, run in workers."""
    from digest import formats
    from digest.identity.decide import identify

    name = inbox.name_of(path)  # stored, then shown by `seen` and --explain: printable
    try:
        dump = formats.parse(inbox.read(path, None, max_bytes), name)
    except ParseError as e:
        return Rejected(e.file, e.why), []
    except OSError as e:
        return Rejected(name, f"cannot read: {e.strerror}"), []
    except Exception as e:  # one file costs at most itself
        return _failure(name, e), []
    return dump, [identify(p) for p in dump.papers]


def _prepared(
    paths: Sequence[Path], max_bytes: int, workers: int
) -> Iterator[tuple[Dump | Rejected, Signed]]:
    """`_prepare` of every path in order; in `workers` processes when there is enough to do,
    with only a few files in flight so memory stays flat however long the backlog."""
    if workers <= 1 or len(paths) < 2 * workers:
        for path in paths:
            yield _prepare(path, max_bytes)
        return
    import multiprocessing
    import signal
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # spawn: a forked copy of a process with threads (tqdm's monitor) can deadlock.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start)
    try:
        window: list[Future[tuple[Dump | Rejected, Signed]]] = []
        for path in paths:
            # A worker starts with Ctrl-C held back (until it ignores it): a Ctrl-C while
            # it imports would print its traceback. The main process gets it just after.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                window.append(pool.submit(_prepare, path, max_bytes))
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            if len(window) > 2 * workers:
                yield window.pop(0).result()
        for future in window:
            yield future.result()
    except BrokenProcessPool:
        raise DigestError(
            "a worker process ended unexpectedly (killed, or out of memory); the files"
            " recorded before it are kept: run the ingest again for the rest"
        ) from None
    except BaseException:  # interrupted, or a failure here: the workers end with us, now
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_start() -> None:
    """In each worker: Ctrl-C is for the main process, which ends the workers itself; and
    on Linux, a worker is sent SIGTERM when its parent dies, however it died."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        return  # not Linux: the main process still ends its workers when interrupted
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)  # the parent died before the line above took effect


def ingest(
    paths: Sequence[Path],
    store: StateStore,
    *,
    max_dump_mb: int = 50,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 50_000,
    workers: int = 1,
) -> Ingested:
    """Record the papers of these dump files as seen, without delivering anything (a
    backlog). Papers already stored, or repeated in the backlog, under an exact key (arXiv
    id, title, abstract) are not recorded twice; near-duplicates are, since either copy
    then recognises a re-post. Files are read and signed in `workers` processes while this
    one writes. `progress(files_done, papers_done)` is called as it goes."""
    files = listed = recorded = known = 0
    rejected: list[Rejected] = []
    pending: list[tuple[Dump, Signed]] = []

    def flush() -> None:
        nonlocal recorded, known
        signed = [paper for _, signs in pending for paper in signs]
        from digest.identity.rule import distinct_ids

        stored = store.lookup(k for p in signed for k in p.keys)
        taken: dict[str, str | None] = {}  # key -> arXiv id; later batches ask the store
        fresh = []
        for signs in signed:
            paper = signs.paper
            if any(
                (k in stored and not distinct_ids(paper, stored[k].arxiv_ids))
                or (k in taken and not distinct_ids(paper, [taken[k]]))
                for k in signs.keys
            ):
                known += 1
                continue
            taken.update(dict.fromkeys(signs.keys, paper.arxiv_id))
            fresh.append(signs)
        store.record([d for d, _ in pending], [], fresh, seen=True)
        recorded += len(fresh)
        pending.clear()

    with store.lock(), store.bulk():
        try:
            for item, signs in _prepared(paths, max_dump_mb * 1_000_000, workers):
                files += 1
                if isinstance(item, Rejected):
                    rejected.append(item)
                    log.warning("%s: %s", item.file, item.reason)
                else:
                    for warning in item.warnings:
                        log.warning("%s: %s", item.name, warning)
                    listed += len(item.papers)
                    pending.append((item, signs))
                    if sum(len(d.papers) for d, _ in pending) >= batch:
                        flush()
                if progress is not None:
                    progress(files, listed)
        except DigestError:  # a worker died: what was read before it is recorded all the same
            flush()
            raise
        flush()
    return Ingested(files, listed, recorded, known, tuple(rejected))


def _identify(paper: Paper) -> Identified:
    from digest.identity.decide import identify

    return identify(paper)


def _interests(
    settings: Settings | Resolved, likes: tuple[tuple[Paper, int], ...] = ()
) -> Interests:
    from digest.interests import Interests, terms

    return Interests(
        highlight=terms(settings.highlight, "DIGEST_HIGHLIGHT"),
        exclude=terms(settings.exclude, "DIGEST_EXCLUDE"),
        order=settings.order,
        max_papers=settings.max_papers,
        interests=settings.interests,
        likes=likes,
        min_score=settings.min_score,
    )


def _summary(digest: Digest) -> str:
    from digest.render import summary

    return summary(digest)
