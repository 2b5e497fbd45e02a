"""The inbox folder: which files in it are dumps to read, and reading them safely."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from digest.errors import ParseError

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".swp")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file in the inbox that may be a dump."""

    path: Path
    size: int
    mtime_ns: int


def scan(inbox: Path) -> list[Candidate]:
    """The files of the inbox worth reading, by name: no hidden files, partial downloads or
    subfolders. Symlinks count only when they stay inside the inbox."""
    found = []
    root = inbox.resolve()
    for entry in os.scandir(inbox):
        name = entry.name
        if name.startswith(".") or name.endswith(IGNORED_SUFFIXES) or name.endswith("~"):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            continue
        if entry.is_symlink() and not path.resolve().is_relative_to(root):
            found.append(Candidate(path, -1, 0))  # read() rejects it with the reason
            continue
        try:
            st = entry.stat()
        except OSError:
            continue  # vanished, or a dangling link
        found.append(Candidate(path, st.st_size, st.st_mtime_ns))
    return sorted(found, key=lambda c: c.path.name)


def read(path: Path, inbox: Path | None, max_bytes: int) -> bytes:
    """A dump's bytes. Raises ParseError for what is not a regular file (inside the inbox,
    when one is given), or is larger than `max_bytes` (read no further than that, so memory
    stays bounded)."""
    name = path.name
    if inbox and path.is_symlink() and not path.resolve().is_relative_to(inbox.resolve()):
        raise ParseError(name, "symbolic link pointing outside the inbox; not read")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the run
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ParseError(name, "not a regular file")
        if st.st_size > max_bytes:
            raise ParseError(
                name,
                f"file is {st.st_size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
                " (DIGEST_MAX_DUMP_MB)",
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ParseError(name, f"file grew past the {max_bytes / 1e6:.0f} MB limit while read")
    return data


def move_into(path: Path, folder: Path, tag: str) -> Path | None:
    """Move an inbox file into `folder` (a subfolder of the inbox: the same file system, so
    the move is atomic, and scans skip it). A name already taken there gets `tag` added.
    Returns where it went, or None (with a warning logged) when it could not be moved."""
    target = folder / path.name
    try:
        folder.mkdir(exist_ok=True)
        if target.exists():  # a dump saved under the same name another day
            target = folder / f"{path.stem}-{tag}{path.suffix}"
        os.replace(path, target)
    except OSError as e:
        log.warning("cannot move %s to %s: %s", path.name, folder, e.strerror)
        return None
    log.info("moved %s to %s", path.name, target)
    return target
