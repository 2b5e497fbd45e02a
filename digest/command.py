"""What a command is: its declaration (`command`: its name, arguments and help, and what it
runs) in the registry COMMANDS, from which digest.cli derives the parser and the dispatch;
and what every command uses: its settings, printing a line. The commands themselves are
declared in digest.commands, with the options of digest.options.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from digest.printable import printable
from digest.redact import keep_secret, redact
from digest.settings import Settings

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any, TextIO

    Run = Callable[[argparse.Namespace], int]

log = logging.getLogger("digest")


class Arg:
    """One argument of a command, as argparse's add_argument takes it."""

    __slots__ = ("flags", "options")

    def __init__(self, *flags: str, **options: Any) -> None:
        self.flags, self.options = flags, options


class Command:
    """A command: its name, what it runs (whose docstring is its help), its arguments, and
    what its settings are checked for: delivering (mail settings given in half are refused)
    or writing or serving the archive (a folder that holds private files is refused)."""

    __slots__ = ("archive", "arguments", "delivers", "name", "run")

    def __init__(
        self, name: str, run: Run, arguments: tuple[Arg, ...], delivers: bool, archive: bool
    ) -> None:
        self.name, self.run, self.arguments = name, run, arguments
        self.delivers, self.archive = delivers, archive

    @property
    def description(self) -> str:
        """The whole help: the docstring, without its indentation."""
        from inspect import cleandoc  # loaded already: dataclasses uses it

        return cleandoc(self.run.__doc__ or "")

    @property
    def summary(self) -> str:
        """The line of `digest --help`: the first paragraph of the help, whole."""
        return " ".join(self.description.split("\n\n")[0].split())


# Each command, in the order `digest --help` lists them (the order of the declarations).
COMMANDS: dict[str, Command] = {}


def command(
    name: str, *arguments: Arg, delivers: bool = False, archive: bool = False
) -> Callable[[Run], Run]:
    """Declare a command: the function it runs (its docstring the help) and its arguments."""

    def declare(run: Run) -> Run:
        COMMANDS[name] = Command(name, run, arguments, delivers, archive)
        return run

    return declare


def say(line: str, file: TextIO | None = None) -> None:
    """Print one line that may quote outside text (names, titles, server replies, settings),
    printable and without secrets."""
    print(printable(redact(line)), file=file or sys.stdout)


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings of a command: its flags over the environment over the env file."""
    from digest import config

    chosen: Command = args.command
    env_file = args.env_file
    if env_file is None and Path(".env").is_file():
        env_file = Path(".env")
    flags = {name: getattr(args, name, None) for name in Settings.__slots__}
    if flags.get("state") is not None:
        from digest.state import location

        flags["state"] = location(str(flags["state"]))
    settings = config.load(
        flags,
        os.environ,
        env_file,
        delivering=chosen.delivers,
        channels=chosen.delivers or chosen.archive,
    )
    keep_secret(settings.smtp_password)  # hidden wherever it would be shown
    if env_file is not None and (warning := config.exposed_secret(env_file)):
        log.warning("%s", warning)
    if chosen.delivers or chosen.archive:  # what writes or serves the archive
        from digest.channels.archive import refuse_private

        refuse_private(settings, env_file)
    return settings
