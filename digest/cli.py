"""Command line: parse arguments, dispatch to the command, turn errors into exit codes.

The commands themselves, each declared once with its arguments and help, are in
digest.commands; the parser and the dispatch are derived from its COMMANDS.

Exit codes: 0 success (also when nothing is new), 1 an expected failure (one line on
stderr says what to do), 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import digest.commands  # noqa: F401 -- declares every command, into COMMANDS
from digest import __version__
from digest.command import COMMANDS
from digest.errors import DigestError
from digest.options import COMMON
from digest.printable import printable
from digest.redact import redact

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from typing import NoReturn

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


class _Parser(argparse.ArgumentParser):
    """Usage errors quote what was typed, which may be a password: shown redacted."""

    def error(self, message: str) -> NoReturn:
        super().error(printable(redact(message)))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser, derived from COMMANDS. With `only` (a command's name), only that
    command's parser: parsing one command's line need not build every other command's (the
    top level's help and errors, which list the commands, come with no command named first)."""
    common = _Parser(add_help=False)
    for arg in COMMON:
        common.add_argument(*arg.flags, **arg.options)
    parser: argparse.ArgumentParser = _Parser(
        prog="digest",
        description="A daily digest of only the papers you have never seen, from saved listings.",
        epilog="Example: digest now --inbox ~/papers --deliver files\n\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        if only is not None and only != name:
            continue
        one = sub.add_parser(
            name,
            help=command.summary,
            description=command.description,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )
        one.set_defaults(command=command)
        for arg in command.arguments:
            one.add_argument(*arg.flags, **arg.options)
    return parser


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
        result: int = args.command.run(args)
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
