"""The stdout channel: one format of the digest on standard output."""

from __future__ import annotations

import os
import sys

from digest.channels import ALL_FORMATS, Channel
from digest.errors import TransientDeliveryError
from digest.models import Outgoing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

    from digest.config import Settings


class StdoutDeliverer:
    """Prints one format of the digest (UTF-8). It counts as delivered only once every byte
    was written: a reader that stops early (`| head -c 10`), a closed pipe or a closed
    standard output leave it pending."""

    # Every format, but not the mail: a digest left pending may be printed by a later run in
    # another --format, or resent as files.
    needs = ALL_FORMATS

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream

    def deliver(self, outgoing: Outgoing) -> str:
        write_all(self.stream or sys.stdout, outgoing.part(self.fmt).encode("utf-8"))
        return "printed to standard output"


def write_all(stream: TextIO | None, data: bytes) -> None:
    """Write every byte of `data` to the file under `stream`, or raise TransientDeliveryError.

    Straight to its file descriptor, in a loop: a buffered or unbuffered text stream may
    drop what a short write left over without a word."""
    if stream is None or stream.closed:  # started with `>&-`: Python sets sys.stdout to None
        raise TransientDeliveryError("cannot write the digest: standard output is closed")
    view = memoryview(data)
    try:
        stream.flush()  # what was printed before comes first
        try:
            fd = stream.fileno()
        except (OSError, ValueError):  # a stream in memory, which takes all it is given
            stream.write(data.decode("utf-8"))
            stream.flush()
            return
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as e:  # a closed pipe or a full disk: the digest stays pending
        raise TransientDeliveryError(
            f"cannot write the digest to standard output: {e.strerror or e}"
            f" ({len(data) - len(view):,} of {len(data):,} bytes written)"
        ) from None


def _build(settings: Settings, recipients: Sequence[str] = ()) -> StdoutDeliverer:
    return StdoutDeliverer(settings.format)


def _describe(settings: Settings) -> str:
    return "standard output"


CHANNEL = Channel("stdout", ("format",), _build, _describe, previews_itself=True)
