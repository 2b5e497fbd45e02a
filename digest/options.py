"""The options of the commands: those every command takes (COMMON), and those several take,
declared once so that the commands that share them read them the same way."""

from __future__ import annotations

from pathlib import Path

from digest.command import Arg
from digest.config import DELIVERIES, REJECTED
from digest.outputs import NAMES as FORMATS
from digest.settings import ORDERS

COMMON = (  # every command's
    Arg(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="read settings from FILE (default: ./.env when present)",
    ),
    Arg("--state", metavar="FILE", help="state file or URL (DIGEST_STATE)"),
    Arg("-v", "--verbose", action="count", default=0, help="say more"),
    Arg("-q", "--quiet", action="store_true", help="only warnings and errors"),
)


# Options several commands take.
READERS = Arg("--readers", type=Path, metavar="FILE", help="the readers file (DIGEST_READERS)")
TEMPLATES = Arg(
    "--templates", type=Path, metavar="DIR", help="your own templates (DIGEST_TEMPLATES)"
)
DELIVER = Arg("--deliver", choices=DELIVERIES, help="where the digest goes (DIGEST_DELIVER)")
OUT = Arg("--out", type=Path, metavar="DIR", help="folder for digest files (DIGEST_OUT)")
ARCHIVE = Arg("--archive", type=Path, metavar="DIR", help="the archive folder (DIGEST_ARCHIVE)")
MAKING = (  # how `now` and `serve` make and deliver digests: both read them the same way
    Arg("--inbox", type=Path, metavar="DIR", help="folder of dump files (DIGEST_INBOX)"),
    DELIVER,
    Arg("--format", choices=FORMATS, help="format for stdout and previews (DIGEST_FORMAT)"),
    OUT,
    TEMPLATES,
    Arg(
        "--send-empty",
        action="store_const",
        const=True,
        help="deliver a digest even when nothing is new (DIGEST_SEND_EMPTY)",
    ),
    Arg(
        "--rejected",
        choices=REJECTED,
        help="a dump that cannot be read: keep it in the inbox, or move it to rejected/"
        " inside it (DIGEST_REJECTED)",
    ),
)
SHOWING = (
    Arg(
        "--show-updated",
        action="store_const",
        const=True,
        help="list papers seen before whose abstract changed (DIGEST_SHOW_UPDATED)",
    ),
    READERS,
)
INTERESTS = (  # the reader's interests, for commands that make a digest
    Arg("--highlight", metavar="TERMS", help="words or regexes to put first (DIGEST_HIGHLIGHT)"),
    Arg("--exclude", metavar="TERMS", help="words or regexes to leave out (DIGEST_EXCLUDE)"),
    Arg("--order", choices=ORDERS, help="order of the papers (DIGEST_ORDER)"),
    Arg("--max-papers", type=int, metavar="N", help="papers in full (DIGEST_MAX_PAPERS)"),
)
TASTE = (
    Arg("papers", nargs="+", metavar="ID", help="paper ids (from `digest seen`) or arXiv ids"),
    Arg("--reader", metavar="EMAIL", help="whose likes: a reader of the readers file"),
    Arg("--forget", action="store_true", help="take a like or dislike back"),
)
# `now`: some readers of the readers file only, whatever their schedule.
ONLY_READER = Arg(
    "--reader",
    action="append",
    metavar="EMAIL",
    help="only this reader of the readers file, whatever their schedule (repeatable)",
)
