"""Deliverers: where a rendered digest goes. Each takes an Outgoing and returns a short
description of what it did, or raises DeliveryError."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from digest.errors import DeliveryError, TransientDeliveryError
from digest.store import Outgoing

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from typing import Protocol, TextIO

    class Deliverer(Protocol):
        """Something that delivers a rendered digest."""

        def deliver(self, outgoing: Outgoing) -> str:
            """Deliver it; return a one-line description; raise DeliveryError on failure."""
            ...


EXTENSIONS = {"html": "html", "text": "txt", "markdown": "md", "json": "json"}


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old content or the whole new one, never a part:
    a temporary file beside it, flushed to disk, then renamed over it."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def file_stem(outgoing: Outgoing) -> str:
    """Output files are named by the digest's date and number, digest-2025-03-12-0017: a
    retry rewrites the same files, and two digests made in the same second stay apart."""
    return f"digest-{outgoing.created:%Y-%m-%d}-{outgoing.id:04d}"


class FilesDeliverer:
    """Writes the digest as HTML, text, Markdown and JSON files into a folder."""

    def __init__(self, out: Path | None) -> None:
        self._out = out

    @property
    def out(self) -> Path:
        """The folder: as given, else the user data folder's digests/ (looked up only when
        something is written, so a run with nothing new does not pay for it)."""
        from digest.config import default_out

        return self._out or default_out()

    def deliver(self, outgoing: Outgoing) -> str:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            paths = []
            for fmt, ext in EXTENSIONS.items():
                path = self.out / f"{file_stem(outgoing)}.{ext}"
                write_atomically(path, getattr(outgoing, fmt).encode("utf-8"))
                paths.append(path)
        except OSError as e:  # a full disk or a permission can be fixed: try again next run
            raise TransientDeliveryError(
                f"cannot write the digest to {self.out}: {e.strerror}"
            ) from None
        return "wrote " + ", ".join(str(p) for p in paths)


class StdoutDeliverer:
    """Prints one format of the digest."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream

    def deliver(self, outgoing: Outgoing) -> str:
        stream = self.stream or sys.stdout
        stream.write(getattr(outgoing, self.fmt))
        stream.flush()
        return "printed to standard output"


class PreviewDeliverer:
    """Writes one format of the digest to a preview file, for a dry run; records nothing."""

    def __init__(self, out: Path, fmt: str) -> None:
        self.out = out
        self.fmt = fmt

    def deliver(self, outgoing: Outgoing) -> str:
        path = self.out / f"preview.{EXTENSIONS[self.fmt]}"
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            write_atomically(path, getattr(outgoing, self.fmt).encode("utf-8"))
        except OSError as e:
            raise DeliveryError(f"cannot write the preview to {path}: {e.strerror}") from None
        print(path)
        return f"wrote preview {path}"
