"""Command line: parse arguments, build Settings, call the library, turn errors into exit codes.

Exit codes: 0 success (also when nothing is new), 1 an expected failure (one line on
stderr says what to do), 2 a usage error.
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from digest import __version__
from digest.config import DELIVERIES, FORMATS, Settings
from digest.errors import DigestError

log = logging.getLogger("digest")

EPILOG = "Settings can also come from DIGEST_* environment variables or an env file (.env)."


def logging_config(verbosity: int) -> dict[str, Any]:
    """Logging as a plain dictConfig: one line per event on stderr, suited to journald."""
    level = {-1: "WARNING", 0: "INFO"}.get(verbosity, "DEBUG")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "digest: %(message)s"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
        },
        "loggers": {"digest": {"level": level, "handlers": ["stderr"], "propagate": False}},
    }


def _settings(args: argparse.Namespace) -> Settings:
    from digest import config

    env_file = args.env_file
    if env_file is None and Path(".env").is_file():
        env_file = Path(".env")
    flags = {name: getattr(args, name, None) for name in Settings.__slots__}
    return config.load(flags, os.environ, env_file)


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

    from digest import pipeline
    from digest.store import Store

    settings = _settings(args)
    settings.require_inbox()
    deliverer = _deliverer(settings, dry_run=args.dry_run)
    with Store.open(settings.state) as store:
        report = pipeline.run_once(
            settings, store, deliverer, datetime.now().astimezone(), dry_run=args.dry_run
        )
    if args.explain and report.digest is not None:
        from digest.render import explain

        for line in explain(report.digest.skipped) or ["no listed paper was left out"]:
            print(line, file=sys.stderr)
    for line in report.failed:
        log.error("%s", line)
    return 0 if report.ok else 1


def cmd_ingest(args: argparse.Namespace) -> int:
    """Record the papers of dump files as seen, without delivering anything (a backlog).

    They will never appear in a digest. A progress bar shows on a terminal.

    Example:
      digest ingest ~/papers/archive/*.txt
    """
    from tqdm import tqdm  # type: ignore[import-untyped]

    from digest import pipeline
    from digest.store import Store

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

    with bar, Store.open(settings.state) as store:
        result = pipeline.ingest(
            args.files,
            store,
            max_dump_mb=settings.max_dump_mb,
            progress=progress,
            workers=args.jobs,
        )
    log.info(
        "%d papers recorded as seen from %d files; %d already known; %d files could not be read",
        result.recorded,
        result.files - len(result.rejected),
        result.known,
        len(result.rejected),
    )
    return 1 if result.rejected else 0


def cmd_seen(args: argparse.Namespace) -> int:
    """Search the papers seen before by title (words, typos forgiven), best match first.

    Shows each paper's id (for `digest forget`), when and in which dump it was first seen.

    Example:
      digest seen "gradient noise deep networks"
    """
    from digest.store import Store

    settings = _settings(args)
    with Store.open(settings.state) as store:
        hits = store.search(" ".join(args.query), args.limit)
    if not hits:
        print("no paper seen before matches that")
        return 1
    for candidate, score in hits:
        seen = candidate.seen
        print(
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
    from digest.store import Store

    settings = _settings(args)
    with Store.open(settings.state) as store, store.lock():
        if all(word.isdigit() for word in args.target):
            forgotten = store.forget(int(word) for word in args.target)
        else:
            from rapidfuzz import fuzz

            from digest.match import normalise

            # The whole title, nearly as typed: a few words could match too many papers.
            query = normalise(" ".join(args.target))
            hits = store.search(query, 50)
            forgotten = store.forget(
                c.seen.id
                for c, _ in hits
                if fuzz.ratio(query, normalise(c.title)) >= args.min_score
            )
    if not forgotten:
        raise DigestError(
            f"no paper seen before matches {' '.join(args.target)!r}; see `digest seen`"
        )
    for candidate in forgotten:
        print(f"forgot {candidate.seen.id}: {candidate.seen.title}")
    return 0


def _deliverer(settings: Settings, *, dry_run: bool) -> Any:
    from digest import deliver

    if settings.deliver == "stdout":
        return deliver.StdoutDeliverer(settings.format)
    if dry_run:
        return deliver.PreviewDeliverer(settings.out, settings.format)
    return deliver.FilesDeliverer(settings.out)


def cmd_check(args: argparse.Namespace) -> int:
    """Show what dump files parse to, or why they cannot be read. Changes nothing.

    Example:
      digest check seeds/*.txt
    """
    from digest.parse import parse

    bad = 0
    for path in args.files:
        try:
            data = path.read_bytes()
            dump = parse(data, path.name)
        except DigestError as e:
            print(f"{path}: cannot be read: {e.__cause__ or getattr(e, 'why', e)}")
            bad += 1
            continue
        except OSError as e:
            print(f"{path}: cannot be read: {e.strerror}")
            bad += 1
            continue
        date = dump.listing_date or "no date"
        print(f"{path}: {dump.format} dump, {dump.encoding}, {len(dump.papers)} papers, {date}")
        for paper in dump.papers[: args.titles]:
            print(f"  - {paper.title}")
        if len(dump.papers) > args.titles:
            print(f"  ... and {len(dump.papers) - args.titles} more")
    return 1 if bad else 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show what the state file holds: papers seen, digests pending, failed and sent.

    Example:
      digest status --state ~/.local/share/digest/state.sqlite3
    """
    from digest.store import Store

    settings = _settings(args)
    with Store.open(settings.state) as store:
        counts = store.counts()
        print(f"state file: {settings.state}")
        print(
            f"papers seen: {counts['papers_seen']}; awaiting delivery: {counts['papers_pending']};"
            f" dumps ingested: {counts['dumps']}"
        )
        for status in ("pending", "failed"):
            for item in store.outgoing(status=status):
                print(
                    f"{status}: digest {item.id} of {item.created:%Y-%m-%d %H:%M},"
                    f" {item.paper_count} papers, {item.attempts} attempts;"
                    f" last error: {item.last_error or 'none'}"
                )
        sent = [d for d in store.recent() if d.status == "sent"]
        for item in sent[:5]:
            when = f"{item.sent_at:%Y-%m-%d %H:%M}" if item.sent_at else "?"
            print(f"sent: digest {item.id}, {item.paper_count} papers, at {when} UTC")
        for r in store.rejected_dumps(5):
            print(f"rejected: {r.file}: {r.reason}")
    return 0


def cmd_resend(args: argparse.Namespace) -> int:
    """Deliver a digest from the outbox again, exactly as stored (failed, pending or sent).

    Example:
      digest resend 12
    """
    from digest import pipeline
    from digest.store import Store

    settings = _settings(args)
    deliverer = _deliverer(settings, dry_run=False)
    with Store.open(settings.state) as store, store.lock():
        item = store.get(args.id)
        if item is None:
            raise DigestError(f"no digest {args.id} in {settings.state}; see `digest status`")
        store.requeue(item.id)
        report = pipeline.Report()
        pipeline.send(store, deliverer, item, report)
    for line in report.delivered:
        log.info("digest %s: %s", item.id, line)
    for line in report.failed:
        log.error("%s", line)
    return 0 if report.ok else 1


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env-file", type=Path, metavar="FILE", help="read settings from FILE (default: ./.env when present)")
    common.add_argument("--state", type=Path, metavar="FILE", help="state file (DIGEST_STATE)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="say more")
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")

    parser = argparse.ArgumentParser(
        prog="digest",
        description="A daily digest of only the papers you have never seen, from saved listings.",
        epilog="Example: digest now --inbox ~/papers --deliver files\n\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    now = _command(sub, "now", cmd_now, common)
    now.add_argument("--inbox", type=Path, metavar="DIR", help="folder of dump files (DIGEST_INBOX)")
    now.add_argument("--deliver", choices=DELIVERIES, help="where the digest goes (DIGEST_DELIVER)")
    now.add_argument("--format", choices=FORMATS, help="format for stdout and previews (DIGEST_FORMAT)")
    now.add_argument("--out", type=Path, metavar="DIR", help="folder for digest files (DIGEST_OUT)")
    now.add_argument("--templates", type=Path, metavar="DIR", help="your own templates (DIGEST_TEMPLATES)")
    now.add_argument("--send-empty", action="store_const", const=True, help="deliver a digest even when nothing is new (DIGEST_SEND_EMPTY)")
    now.add_argument("--dry-run", action="store_true", help="render and show the digest; record and send nothing")
    now.add_argument(
        "--explain", action="store_true",
        help="say on stderr why each paper left out was taken as seen before",
    )
    now.add_argument(
        "--show-updated", action="store_const", const=True,
        help="list papers seen before whose abstract changed (DIGEST_SHOW_UPDATED)",
    )

    check = _command(sub, "check", cmd_check, common)
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument("--titles", type=int, default=3, metavar="N", help="titles to show per file (default 3)")

    _command(sub, "status", cmd_status, common)
    ingest = _command(sub, "ingest", cmd_ingest, common)
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument(
        "-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
        help="processes reading and signing dumps (default: one per CPU)",
    )
    seen = _command(sub, "seen", cmd_seen, common)
    seen.add_argument("query", nargs="+", metavar="QUERY", help="title words")
    seen.add_argument(
        "--limit", type=int, default=20, metavar="N", help="papers to show (default 20)"
    )
    forget = _command(sub, "forget", cmd_forget, common)
    forget.add_argument("target", nargs="+", metavar="ID|QUERY", help="paper ids, or title words")
    forget.add_argument(
        "--min-score", type=int, default=90, metavar="N",
        help="title match needed to forget by title (default 90)",
    )
    resend = _command(sub, "resend", cmd_resend, common)
    resend.add_argument("id", type=int, metavar="ID", help="the digest's number, from `digest status`")
    resend.add_argument("--deliver", choices=DELIVERIES, help="where the digest goes (DIGEST_DELIVER)")
    resend.add_argument("--out", type=Path, metavar="DIR", help="folder for digest files (DIGEST_OUT)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.config.dictConfig(logging_config(-1 if args.quiet else args.verbose))
    try:
        result: int = args.func(args)
    except DigestError as e:
        log.error("%s", e)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    return result
