"""A backlog: dump files recorded as seen without delivering anything (`digest ingest`),
read and identified in worker processes while this one writes."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

from digest import inbox
from digest.errors import DigestError, ParseError, WorkerDied
from digest.models import Dump, Rejected

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from digest.identity.decide import Identified
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)


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
        return inbox.failure(name, e), []
    return dump, [identify(p) for p in dump.papers]


_QUIET_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"


def _prepared(
    paths: Sequence[Path], max_bytes: int, workers: int
) -> Generator[tuple[Dump | Rejected, Signed], None, None]:
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
    # If a worker is killed, the pool's locks are left to multiprocessing's resource tracker
    # (a process of its own, started with the pool), which removes them at exit and warns
    # on stderr that it did: expected here, and said in one line of ours instead.
    if _QUIET_TRACKER not in sys.warnoptions:
        sys.warnoptions.append(_QUIET_TRACKER)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start)
    broken = False
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
        # A worker died, perhaps mid-answer: the pool's own thread may wait for the rest of
        # that answer for ever, so it is not waited for; the other workers end now.
        broken = True
        for process in context.active_children():
            process.kill()
        raise WorkerDied(
            "a worker process ended unexpectedly (killed, or out of memory); the files"
            " recorded before it are kept: run the ingest again for the rest"
        ) from None
    finally:
        # Interrupted, or done: no file is started any more, and the few being read finish
        # (a second or so); a worker stopped mid-answer would leave the pool's pipe half
        # written.
        pool.shutdown(wait=not broken, cancel_futures=True)


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

    # The workers end when the ingest does, however it ends: closing the reader of the files
    # ends them now, not when the interpreter lets go of an interrupted ingest's frames.
    files_read = contextlib.closing(_prepared(paths, max_dump_mb * 1_000_000, workers))
    with store.lock(), store.bulk(), files_read as prepared:
        try:
            for item, signs in prepared:
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
