"""The inbox folder: which files in it are dumps to read, and reading them safely."""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from digest.errors import ConfigError, ParseError
from digest.models import Rejected
from digest.printable import printable

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".swp")
# The names digest gives the files it writes (see digest.channels): never read back as dumps.
# Subfolders of the inbox where files read into a digest, and files that cannot be read,
# are set aside (DIGEST_PROCESSED, DIGEST_REJECTED).
PROCESSED = "processed"
REJECTED = "rejected"
OWN_OUTPUT = re.compile(
    r"(digest-\d{4}-\d\d-\d\d-\d{4,}(-\d+)?|preview(-[A-Za-z0-9@._+-]+)?)\.(html|txt|md|json|eml)"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file in the inbox that may be a dump."""

    path: Path
    size: int
    mtime_ns: int


def name_of(path: Path) -> str:
    """A file's name as digest shows and stores it: printable, whatever bytes it is made of."""
    return printable(path.name) or "(unnamed)"


def scan(inbox: Path, own: Collection[str] = ()) -> list[Candidate]:
    """The files of the inbox worth reading, by name: no hidden files, partial downloads,
    subfolders or files digest wrote itself (its outputs, and `own`: the absolute real
    paths of its state files). Symlinks count only when they stay inside the inbox.
    Whatever one entry is, it costs at most itself: one that cannot even be looked at is
    listed with size -1, for read() to reject with the reason."""
    found = []
    root = inbox.resolve()
    for entry in os.scandir(inbox):
        name = entry.name
        if name.startswith(".") or name.endswith(IGNORED_SUFFIXES) or name.endswith("~"):
            continue
        if OWN_OUTPUT.fullmatch(name) or os.path.join(root, name) in own:
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                continue
            if entry.is_symlink() and not _inside(path, root):
                found.append(Candidate(path, -1, 0))
                continue
            st = entry.stat()
        except FileNotFoundError:
            continue  # vanished, or a dangling link
        except (OSError, ValueError):  # a link loop, say
            found.append(Candidate(path, -1, 0))
            continue
        found.append(Candidate(path, st.st_size, st.st_mtime_ns))
    return sorted(found, key=lambda c: c.path.name)


def _inside(path: Path, root: Path) -> bool:
    """Whether a link leads into `root`; raises OSError for a link that loops."""
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python before 3.13 reports a loop so
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None
    return target.is_relative_to(root)


def read(path: Path, inbox: Path | None, max_bytes: int) -> bytes:
    """A dump's bytes. Raises ParseError for what is not a regular file (inside the inbox,
    when one is given), or is larger than `max_bytes` (read no further than that, so memory
    stays bounded)."""
    name = name_of(path)
    try:
        if inbox and path.is_symlink() and not _inside(path, inbox.resolve()):
            raise ParseError(name, "symbolic link pointing outside the inbox; not read")
        if not stat.S_ISREG(os.stat(path).st_mode):  # a socket cannot even be opened
            raise ParseError(name, "not a regular file")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the run
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP:  # it will not change by itself: remembered, not retried
            raise ParseError(name, "symbolic link that loops; not read") from None
        raise
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


def set_aside(path: Path, inbox: Path, kind: str, tag: str) -> Path | None:
    """The one place inbox files are moved: into the subfolder `kind` (PROCESSED or REJECTED)
    of the inbox, the same file system, so the move is atomic, and scans skip it. A name
    already taken there gets `tag` added. Returns where it went, or None (with a warning
    logged) when it could not be moved."""
    folder = inbox / kind
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


def being_written(candidates: Iterable[Candidate]) -> set[Path] | None:
    """Which of these files some process still has open for writing, as far as this machine
    lets us see: a copy or download in progress, however long it pauses between writes.
    Linux's /proc lists every process's open files (those we may look at); None where there
    is no /proc, so that the caller falls back on watching the size alone."""
    wanted: dict[str, Path] = {}
    for c in candidates:
        try:
            wanted[os.path.realpath(c.path)] = c.path
        except (OSError, ValueError):
            continue
    if not wanted:
        return set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    own = str(os.getpid())
    open_now: set[Path] = set()
    for pid in pids:
        if pid == own:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target not in wanted:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                    flags = next(
                        int(line.split()[1], 8) for line in info if line.startswith("flags:")
                    )
            except (OSError, StopIteration, ValueError):
                continue
            if flags & (os.O_WRONLY | os.O_RDWR):
                open_now.add(wanted[target])
    return open_now


def check_apart(inbox: Path, out: Path) -> None:
    """Refuse an output folder inside the inbox, or an inbox inside the output folder: digest
    would read its own digests back as dumps."""
    inside, outside = Path(os.path.realpath(inbox)), Path(os.path.realpath(out))
    if outside.is_relative_to(inside):
        clash = f"the output folder {out} (DIGEST_OUT) is inside the inbox {inbox} (DIGEST_INBOX)"
    elif inside.is_relative_to(outside):
        clash = f"the inbox {inbox} (DIGEST_INBOX) is inside the output folder {out} (DIGEST_OUT)"
    else:
        return
    raise ConfigError(f"{clash}; digest would read its own digests back: keep them apart")


# A hidden file in the inbox naming the state that read it: a new, empty state beside an inbox
# another state read (DIGEST_STATE changed, a state file lost) would show every paper again.
MARK = ".digest-state"


def marked(folder: Path) -> tuple[str, str] | None:
    """The id and place of the state that last read this inbox, as its mark says."""
    try:
        text = (folder / MARK).read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None
    found, _, where = text.strip().partition("\n")
    return (found.strip(), where.strip()) if found.strip() else None


def mark(folder: Path, state_id: str, where: str) -> None:
    """Note in the inbox which state read it (its id, and where it is, for the operator); an
    inbox that cannot be written keeps no mark, and that is all."""
    from digest.disk import write_atomically

    try:
        write_atomically(folder / MARK, f"{state_id}\n{where}\n".encode())
    except OSError as e:
        log.debug("cannot mark the inbox %s with its state: %s", folder, e.strerror)


def failure(name: str, error: Exception) -> Rejected:
    """An unexpected failure on one inbox file, as its rejection (the details at debug level):
    one file costs at most itself."""
    import traceback

    where = traceback.extract_tb(error.__traceback__)[-1:]
    if where:  # where it happened, for a bug report, without a traceback in the log
        log.debug("%s: %s at %s:%s", name, type(error).__name__, where[0].filename, where[0].lineno)
    return Rejected(name, f"cannot be read ({type(error).__name__}: {error})")
