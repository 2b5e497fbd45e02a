"""The one orchestrator: inbox -> parse -> match -> render -> outbox -> deliver -> record."""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid
from pathlib import Path

from digest import inbox, match, parse
from digest.config import Settings
from digest.deliver import Deliverer
from digest.errors import DeliveryError, ParseError, TransientDeliveryError
from digest.models import Digest, Dump, Paper, Rejected
from digest.store import Outgoing, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


@dataclass
class Report:
    """What one run did, for the CLI and the log."""

    digest: Digest | None = None
    delivered: list[str] = field(default_factory=list)  # one description per delivery
    failed: list[str] = field(default_factory=list)
    pending: int = 0  # digests left in the outbox for a later retry
    dumps_read: int = 0
    dumps_known: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


@dataclass(frozen=True, slots=True)
class Gathered:
    """The inbox files not ingested before, read and parsed."""

    dumps: tuple[Dump, ...]
    rejected: tuple[tuple[Rejected, str | None], ...]  # with the content hash when read
    known: int


def gather(settings: Settings, store: Store) -> Gathered:
    """Read and parse every inbox file whose content was not ingested before."""
    folder = settings.require_inbox()
    max_bytes = settings.max_dump_mb * 1_000_000
    contents: list[tuple[str, str, bytes]] = []
    rejected: list[tuple[Rejected, str | None]] = []
    for candidate in inbox.scan(folder):
        try:
            data = inbox.read(candidate.path, folder, max_bytes)
        except ParseError as e:
            rejected.append((Rejected(e.file, e.why), None))
            continue
        except OSError as e:
            rejected.append((Rejected(candidate.path.name, f"cannot read: {e.strerror}"), None))
            continue
        contents.append((candidate.path.name, hashlib.sha256(data).hexdigest(), data))

    known = store.known_dumps(sha for _, sha, _ in contents)
    dumps: list[Dump] = []
    taken: set[str] = set()
    for name, sha, data in contents:
        if sha in known or sha in taken:
            continue  # the same content again, under this name or another
        taken.add(sha)
        try:
            dumps.append(parse.parse(data, name))
        except ParseError as e:
            rejected.append((Rejected(e.file, e.why), sha))
    for r, _ in rejected:
        log.warning("%s: %s", r.file, r.reason)
    return Gathered(tuple(dumps), tuple(rejected), len(contents) - len(taken))


def decide(
    papers: Sequence[Paper], store: Store, thresholds: match.Thresholds | None = None
) -> match.Decision:
    """Which of these papers are new: exact keys and the candidate index from the store,
    then the pure rule of `match.decide`."""
    paper_keys = [match.keys(p) for p in papers]
    seen = store.lookup(k for ks in paper_keys for k in ks)
    exact = [[seen[k].id for k in ks if k in seen][:1] for ks in paper_keys]
    candidates = store.candidates([match.grams(p) for p in papers], exact)
    return match.decide(papers, seen, candidates, thresholds)


def build(
    gathered: Gathered,
    store: Store,
    now: datetime,
    thresholds: match.Thresholds | None = None,
    *,
    show_updated: bool = False,
) -> Digest:
    """Decide which of the gathered papers are new and make the Digest; with
    `show_updated`, it also lists the papers seen before whose abstract changed."""
    papers = [p for d in gathered.dumps for p in d.papers]
    decision = decide(papers, store, thresholds)
    return Digest(
        papers=decision.new,
        skipped=decision.skipped,
        updated=decision.updated if show_updated else (),
        rejected=tuple(r for r, _ in gathered.rejected),
        dumps=gathered.dumps,
        created=now,
    )


def outgoing(digest: Digest, settings: Settings, hostname: str | None = None) -> Outgoing:
    """Render a digest into the form the outbox keeps and deliverers take."""
    from digest import render

    rendered = render.render_all(digest, settings.templates)
    domain = hostname or socket.getfqdn() or "digest.invalid"
    return Outgoing(
        id=0,
        created=digest.created,
        status="pending",
        message_id=make_msgid("digest", domain=domain),
        subject=rendered.subject,
        paper_count=len(digest.papers),
        html=rendered.html,
        text=rendered.text,
        markdown=rendered.markdown,
        json=rendered.json,
    )


def send(store: Store, deliverer: Deliverer, item: Outgoing, report: Report) -> None:
    """Deliver one digest of the outbox and record the outcome. A transient failure keeps it
    pending with a growing backoff; a permanent one marks it failed, never its papers seen."""
    try:
        description = deliverer.deliver(item)
    except TransientDeliveryError as e:
        backoff = min(timedelta(minutes=2 ** min(item.attempts, 10)), MAX_BACKOFF)
        store.mark_retry(item.id, str(e), backoff)
        report.pending += 1
        report.failed.append(f"digest {item.id} not delivered yet, will retry: {e}")
    except DeliveryError as e:
        store.mark_failed(item.id, str(e))
        report.failed.append(f"digest {item.id} failed: {e}")
    else:
        store.mark_sent(item.id)
        report.delivered.append(description)


def run_once(
    settings: Settings,
    store: Store,
    deliverer: Deliverer,
    now: datetime,
    *,
    dry_run: bool = False,
    retry_all: bool = True,
) -> Report:
    """Retry what the outbox holds, then make, store and deliver the digest of the new dumps.

    Papers are recorded with their digest before delivery and count as seen only once it
    has been delivered. With `dry_run`, the digest is rendered and delivered but nothing is
    recorded. Runs on the same state file take turns.
    """
    report = Report()
    with store.lock():
        if not dry_run:
            for item in store.outgoing(status="pending", due=None if retry_all else now):
                send(store, deliverer, item, report)

        gathered = gather(settings, store)
        digest = build(
            gathered, store, now, settings.thresholds, show_updated=settings.show_updated
        )
        report.digest = digest
        report.dumps_read = len(gathered.dumps)
        report.dumps_known = gathered.known
        new_papers = [(p, match.keys(p)) for p in digest.papers]
        recorded_rejects = [(r, sha) for r, sha in gathered.rejected if sha is not None]

        if not digest.papers and not digest.updated and not settings.send_empty:
            if not dry_run:
                store.record(gathered.dumps, recorded_rejects, [])
            if gathered.dumps:
                log.info("%s; nothing new to deliver", _summary(digest))
            else:
                log.info("nothing new: no unread dumps in %s", settings.inbox)
            return report

        item = outgoing(digest, settings)
        if dry_run:
            report.delivered.append(deliverer.deliver(item))
            return report
        digest_id = store.record(gathered.dumps, recorded_rejects, new_papers, item)
        assert digest_id is not None
        # Shown as updated once: the revised abstract is what later listings compare with.
        store.revise([(s.matched.id, s.paper) for s in digest.updated if s.matched is not None])
        send(store, deliverer, store.get(digest_id) or item, report)
        log.info("%s; %s", _summary(digest), "; ".join(report.delivered) or "not delivered")
    return report


@dataclass(frozen=True, slots=True)
class Ingested:
    """What a backlog ingest did."""

    files: int
    listed: int
    recorded: int
    known: int  # papers already in the store, or repeated in the backlog, by exact key
    rejected: tuple[Rejected, ...]


Signed = list[tuple[list[str], tuple[int, ...]]]  # keys and grams of each paper of a dump


def _prepare(path: Path, max_bytes: int) -> tuple[Dump | Rejected, Signed]:
    """Read, parse and sign one dump: the CPU-heavy part of an ingest, run in workers."""
    try:
        if path.stat().st_size > max_bytes:
            return Rejected(path.name, f"larger than {max_bytes // 1_000_000} MB"), []
        dump = parse.parse(path.read_bytes(), path.name)
    except ParseError as e:
        return Rejected(e.file, e.why), []
    except OSError as e:
        return Rejected(path.name, f"cannot read: {e.strerror}"), []
    return dump, [(match.keys(p), match.grams(p)) for p in dump.papers]


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
    from concurrent.futures import Future, ProcessPoolExecutor

    # spawn: a forked copy of a process with threads (tqdm's monitor) can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        window: list[Future[tuple[Dump | Rejected, Signed]]] = []
        for path in paths:
            window.append(pool.submit(_prepare, path, max_bytes))
            if len(window) > 2 * workers:
                yield window.pop(0).result()
        for future in window:
            yield future.result()


def ingest(
    paths: Sequence[Path],
    store: Store,
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
        signed = [
            (paper, keys, grams)
            for dump, signs in pending
            for paper, (keys, grams) in zip(dump.papers, signs, strict=True)
        ]
        stored = store.lookup(k for _, keys, _ in signed for k in keys)
        taken: set[str] = set()  # later batches find these keys in the store
        fresh = []
        for paper, keys, grams in signed:
            if any(k in taken or k in stored for k in keys):
                known += 1
                continue
            taken.update(keys)
            fresh.append((paper, keys, grams))
        store.record_seen([d for d, _ in pending], fresh)
        recorded += len(fresh)
        pending.clear()

    with store.lock(), store.bulk():
        for item, signs in _prepared(paths, max_dump_mb * 1_000_000, workers):
            files += 1
            if isinstance(item, Rejected):
                rejected.append(item)
                log.warning("%s: %s", item.file, item.reason)
            else:
                listed += len(item.papers)
                pending.append((item, signs))
                if sum(len(d.papers) for d, _ in pending) >= batch:
                    flush()
            if progress is not None:
                progress(files, listed)
        flush()
    return Ingested(files, listed, recorded, known, tuple(rejected))


def _summary(digest: Digest) -> str:
    from digest.render import summary

    return summary(digest)
