"""Every command of `digest`, each declared once (digest.command): its name, its arguments
and the function it runs, whose docstring is its --help (the first paragraph, whole
sentences, is its line in `digest --help`, which lists the commands in this order).

A command opens what the library needs, calls it and says what it did; the deciding is the
library's. Its errors are DigestError; digest.cli turns them into exit codes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from digest import options
from digest.command import Arg, command, log, say, settings_of
from digest.config import FEED_ENTRIES, PROCESSED
from digest.errors import ConfigError, DigestError, WorkerDied
from digest.settings import Settings, shown_zone

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from digest.channels.base import Deliverer
    from digest.readers import Reader


def _deliverer(settings: Settings, *, dry_run: bool, recipients: Sequence[str] = ()) -> Deliverer:
    from digest import channels

    return channels.deliverer(settings, dry_run=dry_run, recipients=recipients)


# -- the commands ---------------------------------------------------------------------------


@command(
    "now",
    *options.MAKING,
    Arg(
        "--dry-run", action="store_true", help="render and show the digest; record and send nothing"
    ),
    Arg(
        "--explain",
        action="store_true",
        help="say on stderr why each paper left out was taken as seen before",
    ),
    *options.SHOWING,
    options.ONLY_READER,
    *options.INTERESTS,
    delivers=True,
)
def cmd_now(args: argparse.Namespace) -> int:
    """Build the digest of every dump in the inbox not seen before, and deliver it.

    Only papers never shown in an earlier digest are included; they are recorded as seen
    once the digest has been delivered. With nothing new, nothing is delivered.

    Example:
      digest now --inbox ~/papers --deliver files --out ~/digests
      digest now --inbox seeds --deliver stdout --format markdown --dry-run
    """
    from datetime import datetime

    from digest import pipeline, state

    settings = settings_of(args)
    settings.require_inbox()
    deliverer = _deliverer(settings, dry_run=args.dry_run)
    stopped = _stop_delivering_on_sigterm(deliverer)
    audience = _chosen(settings, args.reader) if args.reader else None
    with state.open(settings.state) as store:
        report = pipeline.run_once(
            settings,
            store,
            deliverer,
            datetime.now().astimezone(),
            dry_run=args.dry_run,
            readers=audience,
        )
    empty = report.digest if report.ok and not report.delivered else None
    if empty is not None and settings.deliver == "stdout" and settings.format == "json":
        # `| jq` needs a document even when nothing is new: the empty digest, with its stats.
        from digest.channels.stdout import write_all
        from digest.render import render

        write_all(sys.stdout, render(empty, "json").encode("utf-8"))
    if args.explain and report.digest is not None:
        from digest.render import explain

        for line in explain(report.digest.skipped) or ["no listed paper was left out"]:
            say(line, sys.stderr)
    if stopped:
        return 128 + stopped[0]
    # Each failure was logged as it happened. Like `check` and `ingest`: a dump that could
    # not be read is a failure of this run.
    return 0 if report.ok and not report.rejected else 1


def _chosen(settings: Settings, emails: Sequence[str]) -> list[Reader]:
    """The readers `--reader` names, from the readers file; each must be in it and active."""
    from digest import readers

    if settings.readers is None:
        raise ConfigError("--reader needs a readers file: set DIGEST_READERS or pass --readers")
    loaded = readers.load(settings.readers)
    chosen, paused = readers.chosen(loaded, emails, settings, settings.readers)
    for email in paused:
        log.warning("reader %s is paused in %s: nothing is made for them", email, settings.readers)
    return chosen


def _stop_delivering_on_sigterm(deliverer: Deliverer) -> list[int]:
    """On SIGTERM, stop delivering: a deliverer that talks to a server (SMTP) ends the
    exchange in progress at once and the run ends soon after, what it did not deliver
    pending for the next run. One with nothing to cut (files, stdout), or a second signal,
    ends the process at once, as without this handler. Returns the signals caught."""
    from digest import channels

    caught: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if caught or not channels.stop(deliverer):
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        caught.append(signum)
        log.warning(
            "%s: stopping; digests not delivered yet stay pending for the next run",
            signal.Signals(signum).name,
        )

    signal.signal(signal.SIGTERM, on_signal)
    return caught


@command(
    "check",
    Arg("files", nargs="+", type=Path, metavar="FILE"),
    Arg("--titles", type=int, default=3, metavar="N", help="titles to show per file (default 3)"),
)
def cmd_check(args: argparse.Namespace) -> int:
    """Show what dump files parse to, or why they cannot be read. Changes nothing.

    Example:
      digest check seeds/*.txt
    """
    from digest import inbox, overview
    from digest.formats import parse

    settings = settings_of(args)
    bad = 0
    for path in args.files:
        try:
            data = inbox.read(path, None, settings.max_dump_mb * 1_000_000)
            dump = parse(data, path.name)
        except DigestError as e:
            say(overview.unreadable_line(str(path), e.__cause__ or getattr(e, "why", e)))
            bad += 1
            continue
        except OSError as e:
            say(overview.unreadable_line(str(path), e.strerror))
            bad += 1
            continue
        for line in overview.check_lines(str(path), dump, args.titles):
            say(line)
    return 1 if bad else 0


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    """Show what the state file holds: papers seen, digests pending, failed and sent.

    Example:
      digest status --state ~/.local/share/digest/state.sqlite3
    """
    from digest import overview, state
    from digest.service.status import status_lines  # not the scheduler: status stays light

    settings = settings_of(args)
    zone = shown_zone(settings.timezone)
    notify: list[str] = []
    if settings.notify:  # its URLs as Apprise masks them: they may hold tokens
        from digest.channels.notify import masked

        notify = masked(settings.notify)
    with state.open(settings.state, readonly=True) as store:
        lines = overview.status_lines(
            str(settings.state),
            store.counts(),
            store.reader_counts(),
            store.outgoing(status="pending", bare=True)
            + store.outgoing(status="failed", bare=True),
            store.recent(bare=True),
            [r for r, _ in store.untold_rejections()],
            store.rejected_dumps(5),
            archive=str(settings.archive) if settings.archive else None,
            notify=notify,
            chats=store.chat_counts(),
            service=status_lines(store, zone),
            zone=zone,
            names={r.id: r.key for r in store.all_readers()},
        )
    for line in lines:
        say(line)
    return 0


@command(
    "state",
    Arg("action", choices=("copy",), help="copy: the whole state from one place to another"),
    Arg("source", metavar="FROM", help="the state to copy: a path, or a postgresql:// URL"),
    Arg("target", metavar="TO", help="where to copy it: a path, or a postgresql:// URL"),
    Arg("--replace", action="store_true", help="empty a target that holds anything first"),
)
def cmd_state(args: argparse.Namespace) -> int:
    """Copy the whole state to another place: SQLite to PostgreSQL, and back.

    Everything goes (papers, dumps read, readers, unsubscribes, preferences, likes, the
    token secret, the outbox), in one transaction, then checked table by table. A target
    that holds anything is refused unless --replace. Stop the services on both first.

    Example:
      digest state copy ~/.local/share/digest/state.sqlite3 postgresql://digest@db/digest
    """
    from digest.state import location
    from digest.state.transfer import copy

    source, target = location(args.source), location(args.target)
    say(copy(source, target, replace=args.replace).line(source, target))
    return 0


@command(
    "ingest",
    Arg("files", nargs="+", type=Path, metavar="FILE"),
    Arg(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="processes reading and signing dumps (default: one per CPU)",
    ),
)
def cmd_ingest(args: argparse.Namespace) -> int:
    """Record the papers of dump files as seen, without delivering anything (a backlog).

    They will never appear in a digest. A progress bar shows on a terminal.

    Example:
      digest ingest ~/papers/archive/*.txt
    """
    from tqdm import tqdm  # type: ignore[import-untyped]

    from digest import backlog, state

    settings = settings_of(args)
    bar = tqdm(
        total=len(args.files),
        unit="file",
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
        dynamic_ncols=True,
    )

    def progress(files: int, papers: int) -> None:
        bar.update(files - bar.n)
        bar.set_postfix(papers=papers, refresh=False)

    signal.signal(signal.SIGTERM, _stop)  # ends the workers too, as Ctrl-C does
    try:
        with bar, state.open(settings.state) as store:
            result = backlog.ingest(
                args.files,
                store,
                max_dump_mb=settings.max_dump_mb,
                progress=progress,
                workers=args.jobs,
            )
    except WorkerDied as e:
        # The pool's thread may still wait for the dead worker's answer, and the interpreter
        # would wait for that thread before exiting: the state is closed, so end here.
        log.error("%s", e)
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None when started with it closed
                stream.flush()
        os._exit(1)
    log.info(
        "%d papers recorded as seen from %d files; %d already known; %d files could not be read",
        result.recorded,
        result.files - len(result.rejected),
        result.known,
        len(result.rejected),
    )
    return 1 if result.rejected else 0


def _stop(signum: int, frame: object) -> None:
    log.error("stopped by %s; what was recorded before is kept", signal.Signals(signum).name)
    raise SystemExit(128 + signum)


@command(
    "seen",
    Arg("query", nargs="+", metavar="QUERY", help="title words"),
    Arg("--limit", type=int, default=20, metavar="N", help="papers to show (default 20)"),
)
def cmd_seen(args: argparse.Namespace) -> int:
    """Search the papers seen before by title (words, typos forgiven), best match first.

    Shows each paper's id (for `digest forget`), when and in which dump it was first seen.

    Example:
      digest seen "gradient noise deep networks"
    """
    from digest import state
    from digest.identity import index

    settings = settings_of(args)
    with state.open(settings.state, readonly=True) as store:
        hits = index.search(store, " ".join(args.query), args.limit)
    if not hits:
        print("no paper seen before matches that")
        return 1
    for candidate, score in hits:
        seen = candidate.seen
        say(
            f"{seen.id:>8}  {seen.first_seen:%Y-%m-%d %H:%M}  {score:3.0f}  {seen.title}"
            f"  [{seen.first_dump}]"
        )
    return 0


@command(
    "forget",
    Arg("target", nargs="+", metavar="ID|QUERY", help="paper ids, or title words"),
    Arg(
        "--min-score",
        dest="title_score",  # not DIGEST_MIN_SCORE, the relevance setting
        type=int,
        default=90,
        metavar="N",
        help="title match needed to forget by title (default 90)",
    ),
)
def cmd_forget(args: argparse.Namespace) -> int:
    """Remove papers from the seen ones, so that they can be shown again.

    Give paper ids (from `digest seen`), or a title: then every paper whose whole title
    matches it with a score of at least --min-score (typos forgiven) is forgotten.

    Example:
      digest forget 1042 1043
      digest forget "Adding Gradient Noise Improves Learning"
    """
    from digest import state
    from digest.identity import index

    settings = settings_of(args)
    with state.open(settings.state) as store, store.lock():
        forgotten = index.forget(store, index.named(store, args.target, args.title_score))
    if not forgotten:
        raise DigestError(
            f"no paper seen before matches {' '.join(args.target)!r}; see `digest seen`"
        )
    for candidate in forgotten:
        say(f"forgot {candidate.seen.id}: {candidate.seen.title}")
    return 0


@command("like", *options.TASTE)
def cmd_like(args: argparse.Namespace) -> int:
    """Say you liked these papers: papers like them are ranked first in your next digests.

    Give paper ids (from `digest seen`) or arXiv ids; with a readers file, --reader says
    whose likes they are. --forget takes a like or dislike back.

    Example:
      digest like 1042 2503.24322
      digest like 1042 --reader ann@example.org
    """
    return _taste(args, 0 if args.forget else 1)


@command("dislike", *options.TASTE)
def cmd_dislike(args: argparse.Namespace) -> int:
    """Say you disliked these papers: papers like them are ranked lower in your next digests.

    Example:
      digest dislike 1043
    """
    return _taste(args, 0 if args.forget else -1)


def _taste(args: argparse.Namespace, value: int) -> int:
    from digest import readers, state
    from digest.identity import index

    settings = settings_of(args)
    with state.open(settings.state) as store:
        reader = readers.state_of(store.all_readers(), args.reader or "")
        if reader is None:
            who = f"reader {args.reader}" if args.reader else "the reader"
            raise DigestError(f"{who} has had no digest yet; like papers once they have")
        ids = index.paper_ids(store, args.papers)
        store.like(reader.id, ids, value)
        titles = store.titles(ids)
    done = {1: "liked", -1: "disliked", 0: "forgot the like of"}[value]
    for paper_id in ids:
        say(f"{done} {paper_id}: {titles.get(paper_id, '')}")
    return 0


@command(
    "resend",
    Arg("id", type=int, nargs="?", metavar="ID", help="the digest's number, from `digest status`"),
    Arg("--reader", metavar="EMAIL", help="instead of ID: every failed digest of this reader"),
    options.DELIVER,
    options.OUT,
    Arg(
        "--to",
        dest="resend_to",
        action="append",
        metavar="ADDRESS",
        help="mail it only to this address (repeat, or separate with commas); needs smtp",
    ),
    delivers=True,
)
def cmd_resend(args: argparse.Namespace) -> int:
    """Deliver a digest from the outbox again, exactly as stored (failed, pending or sent).

    Mail goes out with the same bytes and Message-ID as the first time, so mail clients show
    one message. With --to, it goes only to those addresses (for instance a recipient the
    mail server refused), and the digest's status is left as it is.

    Example:
      digest resend 12
      digest resend 12 --to ann@example.org
    """
    from datetime import datetime

    from digest import pipeline, readers, state
    from digest.settings import addresses

    settings = settings_of(args)
    given = ", ".join(args.resend_to or ())
    recipients = [a.addr_spec for a in addresses(given, "--to")] if given else []
    if recipients and settings.deliver != "smtp":
        raise ConfigError("--to needs mail delivery: set DIGEST_SMTP_HOST or pass --deliver smtp")
    deliverer = _deliverer(settings, dry_run=False, recipients=recipients)
    if args.id is None and not args.reader:
        raise ConfigError("digest resend needs a digest id, or --reader EMAIL")
    now = datetime.now().astimezone()
    with state.open(settings.state) as store, store.lock():
        if args.id is None:  # every failed digest of one reader, oldest first
            reader = readers.state_of(store.all_readers(), args.reader)
            if reader is None:
                raise DigestError(
                    f"no reader {args.reader} in {settings.state}; see `digest readers`"
                )
            items = pipeline.failed_of(store, reader.id)
            if not items:
                say(f"{args.reader}: no failed digest to deliver again")
                return 0
        elif (item := store.get(args.id)) is None:
            raise DigestError(f"no digest {args.id} in {settings.state}; see `digest status`")
        elif recipients:
            # Only some readers get it again: the digest's own status stays as it is.
            log.info("digest %s: %s", item.id, deliverer.deliver(item))
            return 0
        else:
            items = [item]
        report = pipeline.resend(settings, store, deliverer, items, now)
    for line in report.delivered:
        log.info("%s: %s", args.reader if args.id is None else f"digest {args.id}", line)
    return 0 if report.ok else 1


@command(
    "readers",
    Arg(
        "action",
        nargs="?",
        choices=("list", "check"),
        default="list",
        help="list (default) or check",
    ),
    Arg("file", nargs="?", type=Path, help="with check: the readers file to check"),
    options.READERS,
)
def cmd_readers(args: argparse.Namespace) -> int:
    """List the readers of the readers file and what a run uses for them, or check the file.

    Each reader's settings (what they chose on their own pages wins over the file, and is
    marked), their last digest, what is pending and failed; or, with `check FILE`, what is
    wrong in a readers file, without running anything.

    Example:
      digest readers
      digest readers check readers.toml
    """
    from digest import readers

    if args.action == "check":
        if args.file is None:
            raise ConfigError(
                "digest readers check needs the readers file: digest readers check FILE"
            )
        with contextlib.suppress(DigestError):  # only for the secrets it holds, to hide them
            settings_of(args)
        loaded = readers.load(args.file)
        for error in loaded.errors:
            say(error, sys.stderr)
        say(f"{args.file}: {readers.checked(loaded)}")
        return 1 if loaded.errors else 0
    from digest import state

    settings = settings_of(args)
    if settings.readers is None:
        raise ConfigError("no readers file: set DIGEST_READERS or pass --readers FILE")
    loaded = readers.load(settings.readers)
    for rejection in loaded.rejected:
        log.error("%s", rejection.text)
    with state.open(settings.state, readonly=True) as store:
        known, outbox, end = store.all_readers(), store.reader_outbox(), store.end()
    for line in readers.listing(loaded.readers, settings, known, outbox, end):
        say(line)
    return 1 if loaded.rejected else 0


@command(
    "fetch",
    Arg("--inbox", type=Path, metavar="DIR", help="where to save the listing (DIGEST_INBOX)"),
    Arg("--date", metavar="YYYY-MM-DD", help="the day to fetch (default: yesterday)"),
    Arg("--timezone", metavar="ZONE", help="time zone of `yesterday` (DIGEST_TIMEZONE)"),
)
def cmd_fetch(args: argparse.Namespace) -> int:
    """Download the Daily Papers listing of a day into the inbox, as <date>.json.

    The day defaults to yesterday in DIGEST_TIMEZONE (today's list is still growing). The
    file appears whole or not at all; the same content is not saved twice; a day whose list
    grew is saved again, and only its new papers reach the next digest. A failed download
    (after a few attempts) or an answer that is not a listing saves nothing and exits with 1.

    Example:
      digest fetch --inbox ~/papers
      digest fetch --inbox ~/papers --date 2025-03-18
    """
    from datetime import datetime

    from digest import fetch

    settings = settings_of(args)
    settings.require_inbox()
    if args.date is not None:
        day = fetch.day_of(args.date)
    else:
        from digest.settings import zone

        day = fetch.yesterday(datetime.now().astimezone(), zone(settings.timezone))
    log.info("%s", fetch.fetch_day(settings, day).line())
    return 0


@command(
    "serve",
    *options.MAKING,
    *options.SHOWING,
    *options.INTERESTS,
    Arg(
        "--schedule",
        metavar="SPEC",
        help="when to deliver: '0 7 * * *', @daily, 'every 6h' (DIGEST_SCHEDULE)",
    ),
    Arg(
        "--timezone",
        metavar="ZONE",
        help="time zone of the schedule, e.g. Europe/Paris (DIGEST_TIMEZONE)",
    ),
    Arg(
        "--poll-seconds",
        type=float,
        metavar="N",
        help="how often to look into the inbox, in seconds (DIGEST_POLL_SECONDS)",
    ),
    Arg(
        "--processed",
        choices=PROCESSED,
        help="what to do with a dump once read: leave it, or move it (DIGEST_PROCESSED)",
    ),
    delivers=True,
)
def cmd_serve(args: argparse.Namespace) -> int:
    """Run as a service: watch the inbox and deliver the digest on a schedule, until stopped.

    A dump is taken once complete (the same size and time on two checks in a row) and goes
    into the next scheduled digest. The schedule is a crontab line, @hourly, @daily, @weekly
    or `every N[s|m|h]`; a run missed while stopped is made up once on start. SIGTERM or
    Ctrl-C stops it once the current run is done; a second one stops it at once.

    Example:
      digest serve --inbox ~/papers --schedule '0 7 * * *' --timezone Europe/Paris
      digest serve --inbox ~/papers --schedule 'every 6h' --processed move
    """
    from digest.service.service import serve
    from digest.service.status import Stamped

    settings = settings_of(args)
    # journald stamps each line itself; a terminal or a plain log file needs the time, in
    # the schedule's zone, as the service's own lines say it.
    if not os.environ.get("JOURNAL_STREAM"):
        stamped = Stamped(shown_zone(settings.timezone))
        for handler in log.handlers:
            handler.setFormatter(stamped)
    # The scheduler's own warnings (a run skipped or late) go to the same place.
    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.handlers[:] = log.handlers
    scheduler_log.setLevel(logging.WARNING)
    scheduler_log.propagate = False
    return serve(settings, _deliverer(settings, dry_run=False))


@command(
    "archive",
    options.ARCHIVE,
    Arg("--archive-url", metavar="URL", help="its public address (DIGEST_ARCHIVE_URL)"),
    Arg(
        "--feed-entries",
        choices=FEED_ENTRIES,
        help="one feed entry a digest, or a paper (DIGEST_FEED_ENTRIES)",
    ),
    options.TEMPLATES,
    archive=True,
)
def cmd_archive(args: argparse.Namespace) -> int:
    """Build the archive from the outbox, in the DIGEST_ARCHIVE folder.

    A page for every digest delivered, the index, and the Atom feed of the last digests.
    The folder is a static site: open its index.html, or serve it with any web server (or
    `digest web`). With DIGEST_ARCHIVE set, `now` and `serve` keep it up to date.

    Example:
      digest archive --archive ~/public/papers
      digest archive --archive ~/public/papers --feed-entries paper
    """
    from digest import state
    from digest.channels.archive import archive

    settings = settings_of(args)
    site = archive(settings)
    with state.open(settings.state) as store:
        try:
            count = site.build(store)
        except OSError as e:
            raise DigestError(
                f"cannot write the archive into {site.folder}: {e.strerror}"
            ) from None
    say(f"{count} digests in {site.folder}; open {site.folder / 'index.html'}")
    return 0


@command(
    "web",
    options.ARCHIVE,
    Arg(
        "--bind", dest="web_bind", metavar="ADDRESS", help="address to listen on (DIGEST_WEB_BIND)"
    ),
    Arg("--port", dest="web_port", type=int, metavar="N", help="port (DIGEST_WEB_PORT)"),
    archive=True,
)
def cmd_web(args: argparse.Namespace) -> int:
    """Serve the archive and its feed over HTTP, on 127.0.0.1:8080 unless told otherwise.

    Each reader's pages too (only those, without an archive folder), reached through the
    token of their unsubscribe link:
    /unsubscribe/TOKEN (one click, RFC 8058), /preferences/TOKEN, /like/TOKEN and
    /feed/TOKEN (an Atom feed of their own digests).
    Only the files the archive writes are served, nothing else of its folder; an archive
    folder that holds the state, the digests folder, the readers file or the env file is
    refused.
    Needs the web extra: pip install 'digest[web]'. Stops on Ctrl-C or SIGTERM.

    Example:
      digest web --archive ~/public/papers
      digest web --archive ~/public/papers --bind 0.0.0.0 --port 8000
    """
    from digest.channels.archive import archive

    settings = settings_of(args)
    folder = archive(settings).folder if settings.archive is not None else None
    from digest.web.server import serve

    return serve(folder, settings.web_bind, settings.web_port, settings)
