"""Command line: parse arguments, build Settings, call the library, turn errors into exit codes.

Exit codes: 0 success (also when nothing is new), 1 an expected failure (one line on
stderr says what to do), 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from digest import __version__
from digest.config import DELIVERIES, PROCESSED, REJECTED, Settings
from digest.errors import ConfigError, DigestError, WorkerDied
from digest.outputs import NAMES as FORMATS
from digest.printable import printable
from digest.redact import keep_secret, redact

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from typing import NoReturn, TextIO

    from digest.channels.base import Deliverer
    from digest.readers import Reader

log = logging.getLogger("digest")

EPILOG = "Settings can also come from DIGEST_* environment variables or an env file (.env)."


def log_level(verbosity: int) -> int:
    """-q: warnings and errors only; default: one line per event; -v: debugging detail."""
    return {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)


def configure_logging(level: int) -> None:
    """Plain lines on stderr, suited to a terminal, journald or a log file.

    Set up by hand rather than with logging.config, whose import alone costs more than the
    rest of a run with nothing new."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("digest: %(message)s"))
    handler.addFilter(_shown_record)  # on the handler: whatever formatter serve sets later
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def _shown_record(record: logging.LogRecord) -> bool:
    """Every log line is one printable line without secrets, whatever file names, settings
    or server replies it quotes: no escape codes for the terminal, no newline splitting it
    in a log, no password or token (nor in the details of an error, with -v)."""
    record.msg, record.args = printable(redact(record.getMessage())), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return True


def say(line: str, file: TextIO | None = None) -> None:
    """Print one line that may quote outside text (names, titles, server replies, settings),
    printable and without secrets."""
    print(printable(redact(line)), file=file or sys.stdout)


class _Parser(argparse.ArgumentParser):
    """Usage errors quote what was typed, which may be a password: shown redacted."""

    def error(self, message: str) -> NoReturn:
        super().error(printable(redact(message)))


def _settings(args: argparse.Namespace) -> Settings:
    from digest import config

    delivering = args.func in (cmd_now, cmd_serve, cmd_resend)

    env_file = args.env_file
    if env_file is None and Path(".env").is_file():
        env_file = Path(".env")
    flags = {name: getattr(args, name, None) for name in Settings.__slots__}
    if flags.get("state") is not None:
        from digest.state import location

        flags["state"] = location(str(flags["state"]))
    settings = config.load(flags, os.environ, env_file, delivering=delivering)
    keep_secret(settings.smtp_password)  # hidden wherever it would be shown
    if env_file is not None and (warning := config.exposed_secret(env_file)):
        log.warning("%s", warning)
    if delivering or args.func in (cmd_archive, cmd_web):  # what writes or serves the archive
        from digest.channels.archive import refuse_private

        refuse_private(settings, env_file)
    return settings


# -- commands -------------------------------------------------------------------------------


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

    settings = _settings(args)
    settings.require_inbox()
    deliverer = _deliverer(settings, dry_run=args.dry_run)
    stopped = _stop_delivering_on_sigterm(deliverer)
    readers = _chosen_readers(settings, args.reader) if args.reader else None
    with state.open(settings.state) as store:
        report = pipeline.run_once(
            settings,
            store,
            deliverer,
            datetime.now().astimezone(),
            dry_run=args.dry_run,
            readers=readers,
        )
    empty = report.digest if report.ok and not report.delivered else None
    if empty is not None and _wants_document(settings):
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


def _chosen_readers(settings: Settings, emails: Sequence[str]) -> list[Reader]:
    """The readers `--reader` names, from the readers file; each must be in it and active."""
    from digest import readers

    if settings.readers is None:
        raise ConfigError("--reader needs a readers file: set DIGEST_READERS or pass --readers")
    loaded = readers.load(settings.readers)
    by_key = {r.key: r for r in loaded.readers}
    chosen = []
    for email in emails:
        reader = by_key.get(readers.address_key(email))
        if reader is None:
            raise ConfigError(f"--reader {email}: no such reader in {settings.readers}")
        if readers.effective(reader, settings).paused:
            log.warning(
                "reader %s is paused in %s: nothing is made for them", email, settings.readers
            )
            continue
        chosen.append(reader)
    return chosen


def cmd_readers(args: argparse.Namespace) -> int:
    """List the readers of the readers file with what a run uses for them (what they chose
    on their own pages wins over the file, and is marked), their last digest, what is
    pending and failed; or, with `check FILE`, check a readers file without running anything.

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
            _settings(args)
        loaded = readers.load(args.file)
        for error in loaded.errors:
            say(error, sys.stderr)
        say(f"{args.file}: {readers.checked(loaded)}")
        return 1 if loaded.errors else 0
    from digest import state

    settings = _settings(args)
    if settings.readers is None:
        raise ConfigError("no readers file: set DIGEST_READERS or pass --readers FILE")
    loaded = readers.load(settings.readers)
    for rejection in loaded.rejected:
        log.error("%s", rejection.text)
    with state.open(settings.state, readonly=True) as store:
        known = {r.key: r for r in store.all_readers()}
        outbox = store.reader_outbox()
        end = store.end()
    lines = []
    for reader in loaded.readers:
        kept = known.get(reader.key)
        done = outbox.get(kept.id, {}) if kept is not None else {}
        lines.append(readers.listed(reader, settings, kept, done, end))
    for line in lines:
        say(line)
    if any(readers.THEIRS in line for line in lines):
        say(f"{readers.THEIRS}: chosen by the reader on their own pages, over the readers file")
    return 1 if loaded.rejected else 0


def _wants_document(settings: Settings) -> bool:
    return settings.deliver == "stdout" and settings.format == "json"


def cmd_ingest(args: argparse.Namespace) -> int:
    """Record the papers of dump files as seen, without delivering anything (a backlog).

    They will never appear in a digest. A progress bar shows on a terminal.

    Example:
      digest ingest ~/papers/archive/*.txt
    """
    from tqdm import tqdm  # type: ignore[import-untyped]

    from digest import backlog, state

    settings = _settings(args)
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


def cmd_seen(args: argparse.Namespace) -> int:
    """Search the papers seen before by title (words, typos forgiven), best match first.

    Shows each paper's id (for `digest forget`), when and in which dump it was first seen.

    Example:
      digest seen "gradient noise deep networks"
    """
    from digest import state
    from digest.identity import index

    settings = _settings(args)
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

    settings = _settings(args)
    with state.open(settings.state) as store, store.lock():
        if all(word.isdigit() for word in args.target):
            forgotten = index.forget(store, (int(word) for word in args.target))
        else:
            from rapidfuzz import fuzz

            from digest.identity.keys import normalise

            # The whole title, nearly as typed: a few words could match too many papers.
            query = normalise(" ".join(args.target))
            hits = index.search(store, query, 50)
            forgotten = index.forget(
                store,
                (
                    c.seen.id
                    for c, _ in hits
                    if fuzz.ratio(query, normalise(c.title)) >= args.title_score
                ),
            )
    if not forgotten:
        raise DigestError(
            f"no paper seen before matches {' '.join(args.target)!r}; see `digest seen`"
        )
    for candidate in forgotten:
        say(f"forgot {candidate.seen.id}: {candidate.seen.title}")
    return 0


def cmd_like(args: argparse.Namespace) -> int:
    """Say you liked these papers: papers like them are ranked first in your next digests.

    Give paper ids (from `digest seen`) or arXiv ids; with a readers file, --reader says
    whose likes they are. --forget takes a like or dislike back.

    Example:
      digest like 1042 2503.24322
      digest like 1042 --reader ann@example.org
    """
    return _taste(args, 0 if args.forget else 1)


def cmd_dislike(args: argparse.Namespace) -> int:
    """Say you disliked these papers: papers like them are ranked lower in your next digests.

    Example:
      digest dislike 1043
    """
    return _taste(args, 0 if args.forget else -1)


def _taste(args: argparse.Namespace, value: int) -> int:
    from digest import state
    from digest.identity.keys import arxiv_key
    from digest.readers import address_key

    settings = _settings(args)
    key = address_key(args.reader or "")
    with state.open(settings.state) as store:
        reader = next((r for r in store.all_readers() if r.key == key), None)
        if reader is None:
            who = f"reader {args.reader}" if args.reader else "the reader"
            raise DigestError(f"{who} has had no digest yet; like papers once they have")
        ids: list[int] = []
        for given in args.papers:
            if given.isdigit():
                found = int(given) if store.titles([int(given)]) else None
            else:
                seen = store.lookup([f"x:{arxiv_key(given)}"]) if arxiv_key(given) else {}
                found = next((s.id for s in seen.values()), None)
            if found is None:
                raise DigestError(f"no paper seen before has the id {given!r}; see `digest seen`")
            ids.append(found)
        store.like(reader.id, ids, value)
        titles = store.titles(ids)
    done = {1: "liked", -1: "disliked", 0: "forgot the like of"}[value]
    for paper_id in ids:
        say(f"{done} {paper_id}: {titles.get(paper_id, '')}")
    return 0


def _taste_args(taste: argparse.ArgumentParser) -> None:
    add = taste.add_argument
    add("papers", nargs="+", metavar="ID", help="paper ids (from `digest seen`) or arXiv ids")
    add("--reader", metavar="EMAIL", help="whose likes: a reader of the readers file")
    add("--forget", action="store_true", help="take a like or dislike back")


def _deliverer(settings: Settings, *, dry_run: bool, recipients: Sequence[str] = ()) -> Deliverer:
    from digest import channels

    return channels.deliverer(settings, dry_run=dry_run, recipients=recipients)


def cmd_check(args: argparse.Namespace) -> int:
    """Show what dump files parse to, or why they cannot be read. Changes nothing.

    Example:
      digest check seeds/*.txt
    """
    from digest import inbox, overview
    from digest.formats import parse

    settings = _settings(args)
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


def cmd_status(args: argparse.Namespace) -> int:
    """Show what the state file holds: papers seen, digests pending, failed and sent.

    Example:
      digest status --state ~/.local/share/digest/state.sqlite3
    """
    from digest import overview, state
    from digest.service.status import status_lines  # not the scheduler: status stays light

    settings = _settings(args)
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
            service=status_lines(store),
        )
    for line in lines:
        say(line)
    return 0


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

    settings = _settings(args)
    _service_logging()
    return serve(settings, _deliverer(settings, dry_run=False))


def _service_logging() -> None:
    # journald stamps each line itself; a terminal or a plain log file needs the time.
    if not os.environ.get("JOURNAL_STREAM"):
        stamped = logging.Formatter("%(asctime)s digest: %(message)s", "%Y-%m-%d %H:%M:%S%z")
        for handler in log.handlers:
            handler.setFormatter(stamped)
    # The scheduler's own warnings (a run skipped or late) go to the same place.
    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.handlers[:] = log.handlers
    scheduler_log.setLevel(logging.WARNING)
    scheduler_log.propagate = False


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

    settings = _settings(args)
    settings.require_inbox()
    if args.date is not None:
        day = fetch.day_of(args.date)
    else:
        from digest.config import zone

        day = fetch.yesterday(datetime.now().astimezone(), zone(settings.timezone))
    log.info("%s", fetch.fetch_day(settings, day).line())
    return 0


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

    from digest import pipeline, state

    settings = _settings(args)
    recipients = _resend_to(args.resend_to)
    if recipients and settings.deliver != "smtp":
        raise ConfigError("--to needs mail delivery: set DIGEST_SMTP_HOST or pass --deliver smtp")
    deliverer = _deliverer(settings, dry_run=False, recipients=recipients)
    if args.id is None:
        return _resend_reader(settings, deliverer, args.reader)
    with state.open(settings.state) as store, store.lock():
        item = store.get(args.id)
        if item is None:
            raise DigestError(f"no digest {args.id} in {settings.state}; see `digest status`")
        if recipients:
            # Only some readers get it again: the digest's own status stays as it is.
            log.info("digest %s: %s", item.id, deliverer.deliver(item))
            return 0
        store.requeue(item.id)
        report = pipeline.Report()
        now = datetime.now().astimezone()
        pipeline.send(store, deliverer, item, report, now, pipeline.retry(settings))
    for line in report.delivered:
        log.info("digest %s: %s", item.id, line)
    return 0 if report.ok else 1


def _resend_reader(settings: Settings, deliverer: Deliverer, email: str | None) -> int:
    """Deliver again every failed digest of one reader, oldest first."""
    from datetime import datetime

    from digest import pipeline, state

    if not email:
        raise ConfigError("digest resend needs a digest id, or --reader EMAIL")
    from digest.readers import address_key

    key = address_key(email)
    with state.open(settings.state) as store, store.lock():
        ids = {r.key: r.id for r in store.all_readers()}
        if key not in ids:
            raise DigestError(f"no reader {email} in {settings.state}; see `digest readers`")
        theirs = [d.id for d in store.outgoing(status="failed", bare=True) if d.reader == ids[key]]
        failed = [d for d in map(store.get, theirs) if d is not None]
        if not failed:
            say(f"{email}: no failed digest to deliver again")
            return 0
        report = pipeline.Report()
        now = datetime.now().astimezone()
        for item in failed:
            store.requeue(item.id)
            pipeline.send(store, deliverer, item, report, now, pipeline.retry(settings))
    for line in report.delivered:
        log.info("%s: %s", email, line)
    return 0 if report.ok else 1


def cmd_archive(args: argparse.Namespace) -> int:
    """Build the archive from the outbox: a page for every digest delivered, the index, and
    the Atom feed of the last digests, in the DIGEST_ARCHIVE folder.

    The folder is a static site: open its index.html, or serve it with any web server (or
    `digest web`). With DIGEST_ARCHIVE set, `now` and `serve` keep it up to date.

    Example:
      digest archive --archive ~/public/papers
      digest archive --archive ~/public/papers --feed-entries paper
    """
    from digest import state
    from digest.channels.archive import archive

    settings = _settings(args)
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


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the archive and its feed over HTTP, on 127.0.0.1:8080 unless told otherwise.

    Each reader's pages too, reached through the token of their unsubscribe link:
    /unsubscribe/TOKEN (one click, RFC 8058), /preferences/TOKEN and /like/TOKEN.
    Only the files the archive writes are served, nothing else of its folder; an archive
    folder that holds the state, the digests folder, the readers file or the env file is
    refused.
    Needs the web extra: pip install 'digest[web]'. Stops on Ctrl-C or SIGTERM.

    Example:
      digest web --archive ~/public/papers
      digest web --archive ~/public/papers --bind 0.0.0.0 --port 8000
    """
    from digest.channels.archive import archive

    settings = _settings(args)
    site = archive(settings)
    from digest.web.server import serve

    return serve(site.folder, settings.web_bind, settings.web_port, settings)


# -- parser ---------------------------------------------------------------------------------


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    doc = func.__doc__ or ""
    parser = sub.add_parser(
        name,
        help=doc.splitlines()[0],
        description=doc,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.set_defaults(func=func)
    return parser


def _interest_flags(parser: argparse.ArgumentParser) -> None:
    """The reader's interests, for commands that make a digest."""
    from digest.config import ORDERS

    add = parser.add_argument
    add("--highlight", metavar="TERMS", help="words or regexes to put first (DIGEST_HIGHLIGHT)")
    add("--exclude", metavar="TERMS", help="words or regexes to leave out (DIGEST_EXCLUDE)")
    add("--order", choices=ORDERS, help="order of the papers (DIGEST_ORDER)")
    add("--max-papers", type=int, metavar="N", help="papers in full (DIGEST_MAX_PAPERS)")


def _common() -> argparse.ArgumentParser:
    """The options every command takes."""
    common = _Parser(add_help=False)
    add = common.add_argument
    add(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="read settings from FILE (default: ./.env when present)",
    )
    add("--state", metavar="FILE", help="state file or URL (DIGEST_STATE)")
    add("-v", "--verbose", action="count", default=0, help="say more")
    add("-q", "--quiet", action="store_true", help="only warnings and errors")
    return common


def _now_args(now: argparse.ArgumentParser) -> None:
    add = now.add_argument
    add("--inbox", type=Path, metavar="DIR", help="folder of dump files (DIGEST_INBOX)")
    add("--deliver", choices=DELIVERIES, help="where the digest goes (DIGEST_DELIVER)")
    add("--format", choices=FORMATS, help="format for stdout and previews (DIGEST_FORMAT)")
    add("--out", type=Path, metavar="DIR", help="folder for digest files (DIGEST_OUT)")
    add("--templates", type=Path, metavar="DIR", help="your own templates (DIGEST_TEMPLATES)")
    add(
        "--send-empty",
        action="store_const",
        const=True,
        help="deliver a digest even when nothing is new (DIGEST_SEND_EMPTY)",
    )
    add(
        "--rejected",
        choices=REJECTED,
        help="a dump that cannot be read: keep it in the inbox, or move it to rejected/"
        " inside it (DIGEST_REJECTED)",
    )
    add(
        "--dry-run", action="store_true", help="render and show the digest; record and send nothing"
    )
    add(
        "--explain",
        action="store_true",
        help="say on stderr why each paper left out was taken as seen before",
    )
    add(
        "--show-updated",
        action="store_const",
        const=True,
        help="list papers seen before whose abstract changed (DIGEST_SHOW_UPDATED)",
    )
    add("--readers", type=Path, metavar="FILE", help="the readers file (DIGEST_READERS)")
    if now.prog.endswith(" now"):
        add(
            "--reader",
            action="append",
            metavar="EMAIL",
            help="only this reader of the readers file, whatever their schedule (repeatable)",
        )
    _interest_flags(now)


def _readers_args(readers: argparse.ArgumentParser) -> None:
    add = readers.add_argument
    add(
        "action",
        nargs="?",
        choices=("list", "check"),
        default="list",
        help="list (default) or check",
    )
    add("file", nargs="?", type=Path, help="with check: the readers file to check")
    add("--readers", type=Path, metavar="FILE", help="the readers file (DIGEST_READERS)")


def _check_args(check: argparse.ArgumentParser) -> None:
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument(
        "--titles", type=int, default=3, metavar="N", help="titles to show per file (default 3)"
    )


def _status_args(status: argparse.ArgumentParser) -> None:
    pass  # the common options only


def _ingest_args(ingest: argparse.ArgumentParser) -> None:
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="processes reading and signing dumps (default: one per CPU)",
    )


def _seen_args(seen: argparse.ArgumentParser) -> None:
    seen.add_argument("query", nargs="+", metavar="QUERY", help="title words")
    seen.add_argument(
        "--limit", type=int, default=20, metavar="N", help="papers to show (default 20)"
    )


def _forget_args(forget: argparse.ArgumentParser) -> None:
    forget.add_argument("target", nargs="+", metavar="ID|QUERY", help="paper ids, or title words")
    forget.add_argument(
        "--min-score",
        dest="title_score",  # not DIGEST_MIN_SCORE, the relevance setting
        type=int,
        default=90,
        metavar="N",
        help="title match needed to forget by title (default 90)",
    )


def _resend_args(resend: argparse.ArgumentParser) -> None:
    add = resend.add_argument
    add("id", type=int, nargs="?", metavar="ID", help="the digest's number, from `digest status`")
    add("--reader", metavar="EMAIL", help="instead of ID: every failed digest of this reader")
    add("--deliver", choices=DELIVERIES, help="where the digest goes (DIGEST_DELIVER)")
    add("--out", type=Path, metavar="DIR", help="folder for digest files (DIGEST_OUT)")
    add(
        "--to",
        dest="resend_to",
        action="append",
        metavar="ADDRESS",
        help="mail it only to this address (repeat, or separate with commas); needs smtp",
    )


def _fetch_args(fetch: argparse.ArgumentParser) -> None:
    add = fetch.add_argument
    add("--inbox", type=Path, metavar="DIR", help="where to save the listing (DIGEST_INBOX)")
    add("--date", metavar="YYYY-MM-DD", help="the day to fetch (default: yesterday)")
    add("--timezone", metavar="ZONE", help="time zone of `yesterday` (DIGEST_TIMEZONE)")


def _archive_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--archive", type=Path, metavar="DIR", help="the archive folder (DIGEST_ARCHIVE)"
    )


def _archive_args(archive: argparse.ArgumentParser) -> None:
    from digest.config import FEED_ENTRIES

    _archive_flag(archive)
    add = archive.add_argument
    add("--archive-url", metavar="URL", help="its public address (DIGEST_ARCHIVE_URL)")
    add(
        "--feed-entries",
        choices=FEED_ENTRIES,
        help="one feed entry a digest, or a paper (DIGEST_FEED_ENTRIES)",
    )
    add("--templates", type=Path, metavar="DIR", help="your own templates (DIGEST_TEMPLATES)")


def _web_args(web: argparse.ArgumentParser) -> None:
    _archive_flag(web)
    add = web.add_argument
    add("--bind", dest="web_bind", metavar="ADDRESS", help="address to listen on (DIGEST_WEB_BIND)")
    add("--port", dest="web_port", type=int, metavar="N", help="port (DIGEST_WEB_PORT)")


def _serve_args(serve: argparse.ArgumentParser) -> None:
    # Every option of `now` but --dry-run and --explain, so that both read the same settings
    # the same way.
    now = argparse.ArgumentParser(add_help=False)
    _now_args(now)
    for action in now._actions:
        if action.dest not in {"dry_run", "explain"}:
            serve._add_action(action)
    add = serve.add_argument
    add(
        "--schedule",
        metavar="SPEC",
        help="when to deliver: '0 7 * * *', @daily, 'every 6h' (DIGEST_SCHEDULE)",
    )
    add(
        "--timezone",
        metavar="ZONE",
        help="time zone of the schedule, e.g. Europe/Paris (DIGEST_TIMEZONE)",
    )
    add(
        "--poll-seconds",
        type=float,
        metavar="N",
        help="how often to look into the inbox, in seconds (DIGEST_POLL_SECONDS)",
    )
    add(
        "--processed",
        choices=PROCESSED,
        help="what to do with a dump once read: leave it, or move it (DIGEST_PROCESSED)",
    )


Arguments = Callable[[argparse.ArgumentParser], None]
# Each command: the function it runs and what adds its own arguments, in the order --help
# lists them. A new command is one function and one entry.
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], Arguments]] = {
    "now": (cmd_now, _now_args),
    "check": (cmd_check, _check_args),
    "status": (cmd_status, _status_args),
    "ingest": (cmd_ingest, _ingest_args),
    "seen": (cmd_seen, _seen_args),
    "forget": (cmd_forget, _forget_args),
    "like": (cmd_like, _taste_args),
    "dislike": (cmd_dislike, _taste_args),
    "resend": (cmd_resend, _resend_args),
    "readers": (cmd_readers, _readers_args),
    "fetch": (cmd_fetch, _fetch_args),
    "serve": (cmd_serve, _serve_args),
    "archive": (cmd_archive, _archive_args),
    "web": (cmd_web, _web_args),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With `only` (a command's name), only that command's parser:
    parsing one command's line need not build every other command's (the top level's help
    and errors, which list the commands, come with no command named first)."""
    common = _common()
    parser: argparse.ArgumentParser = _Parser(
        prog="digest",
        description="A daily digest of only the papers you have never seen, from saved listings.",
        epilog="Example: digest now --inbox ~/papers --deliver files\n\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, (func, arguments) in COMMANDS.items():
        if only is None or only == name:
            arguments(_command(sub, name, func, common))
    return parser


def _resend_to(values: Sequence[str] | None) -> list[str]:
    from digest.config import addresses

    if not values:
        return []
    return [a.addr_spec for a in addresses(", ".join(values), "--to")]


def _never_fail_on_characters() -> None:
    # A terminal or pipe that cannot show a character (PYTHONIOENCODING=ascii, a C locale)
    # gets an escape for it rather than a crash.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _reader_gone() -> int:
    # `digest status | head`: the reader has what it wanted. Point stdout at nothing, so
    # that the interpreter's last flush cannot fail again, and end quietly as `cat` would.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a command ended by a closed pipe


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    _never_fail_on_characters()
    argv = sys.argv[1:] if argv is None else list(argv)
    # A command named first is all the top level sees (anything before it is the top
    # level's: --help, --version, or a usage error that lists every command).
    first = argv[0] if argv else None
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    configure_logging(log_level(-1 if args.quiet else args.verbose))
    try:
        result: int = args.func(args)
        if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
            sys.stdout.flush()
    except DigestError as e:
        log.error("%s", e)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except OSError as e:
        if e.filename is None or e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            return _unexpected(e)
        # A file of the state, the inbox or the output that this user may not use: which
        # file, and whose it is, is all there is to say.
        from digest.state import access_problem

        where = Path(os.fsdecode(e.filename))
        problem = access_problem(where, writing=False) or access_problem(where, writing=True)
        if problem:
            log.error("%s: %s", e.strerror, problem)
        else:
            log.error("%s: %s", where, e.strerror)
        return 1
    except Exception as e:
        return _unexpected(e)
    return result


def _unexpected(error: BaseException) -> int:
    # A bug: one line, and the details with -v (they may hold settings, so not by default).
    log.error("unexpected error (%s); run again with -v for the details", type(error).__name__)
    log.debug("the error in detail", exc_info=True)
    return 1
