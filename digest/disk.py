"""Files written whole: what every part of digest that writes a file for others to read uses
(the digests, the archive, a fetched listing, the inbox's mark)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(
    path: Path, data: bytes, *, replace: bool = True, mode: int | None = None
) -> None:
    """Write a file so that readers see the old content or the whole new one, never a part:
    a temporary file beside it, flushed to disk, then renamed over it. Without `replace`, it
    is linked into place instead, which fails with FileExistsError rather than overwrite.
    It is readable by its owner only, unless `mode` says otherwise."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _link(tmp: str, path: Path) -> None:
    """Put `tmp` in place at `path` unless something is there already (FileExistsError)."""
    try:
        os.link(tmp, path)  # atomic, and never over an existing file
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: look, then rename
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)
