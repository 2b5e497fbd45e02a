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

    from digest.settings import Settings


class StdoutDeliverer:
    """Prints one format of the digest (UTF-8). It counts as delivered only once its reader
    has it all: into a file or a terminal, once every byte was written; into a pipe or a
    socket, once the reader has taken every byte (within `wait` seconds). A reader that
    stops early (`| head -c 10`), a closed pipe or a closed standard output leave it pending."""

    # Every format, but not the mail: a digest left pending may be printed by a later run in
    # another --format, or resent as files.
    needs = ALL_FORMATS

    def __init__(self, fmt: str, stream: TextIO | None = None, wait: float = 5.0) -> None:
        self.fmt = fmt
        self.stream = stream
        self.wait = wait

    def deliver(self, outgoing: Outgoing) -> str:
        data = outgoing.part(self.fmt).encode("utf-8")
        fd = write_all(self.stream or sys.stdout, data)
        if fd is not None:
            wait_taken(fd, len(data), self.wait)
        return "printed to standard output"


def write_all(stream: TextIO | None, data: bytes) -> int | None:
    """Write every byte of `data` to the file under `stream`, or raise TransientDeliveryError;
    returns the file descriptor written to (None for a stream in memory).

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
            return None
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as e:  # a closed pipe or a full disk: the digest stays pending
        raise TransientDeliveryError(
            f"cannot write the digest to standard output: {e.strerror or e}"
            f" ({len(data) - len(view):,} of {len(data):,} bytes written)"
        ) from None
    return fd


def wait_taken(fd: int, size: int, wait: float) -> None:
    """Return once the reader at the other end of `fd` has taken everything written to it,
    or raise TransientDeliveryError: it closed its end with bytes unread (`| head`), or did
    not take them within `wait` seconds.

    Written into a pipe (or a socket) is not read: a digest that fits in the pipe's buffer
    is written at once, whatever the reader then does with it. The kernel tells how many
    bytes are still unread (FIONREAD on a pipe, TIOCOUTQ on a socket), and reports a reader
    gone as an error or hangup on the writing end. A file or a terminal holds what was
    written: nothing to wait for."""
    import stat
    import termios

    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode):
        request = termios.FIONREAD
    elif stat.S_ISSOCK(mode):
        request = termios.TIOCOUTQ
    else:
        return
    import select
    import time

    watch = select.poll()
    watch.register(fd, 0)  # nothing asked for: only an error or a hangup wakes it
    deadline = time.monotonic() + wait
    pause = 0.005
    while True:
        unread = _unread(fd, request)
        # Asked after the count: a reader still there once none was unread took it all.
        if watch.poll(0):  # the reader is gone
            # A pipe keeps what its reader left unread; a socket drops it, so there a
            # reader gone before all was seen taken may not have taken it.
            if stat.S_ISFIFO(mode):
                unread = _unread(fd, request)
            if unread > 0 or not stat.S_ISFIFO(mode):
                raise TransientDeliveryError(
                    "cannot write the digest to standard output: its reader stopped before"
                    f" taking all {size:,} bytes"
                    + (f" ({min(unread, size):,} unread)" if stat.S_ISFIFO(mode) else "")
                )
            return
        if unread <= 0:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            taken = size - min(unread, size)  # the count may take in what was written before
            raise TransientDeliveryError(
                f"cannot deliver the digest to standard output: its reader took {taken:,}"
                f" of {size:,} bytes in {wait:g} seconds (DIGEST_STDOUT_WAIT)"
            )
        watch.poll(min(pause, left) * 1000)  # wakes at once if the reader goes
        pause = min(pause * 2, 0.1)


def _unread(fd: int, request: int) -> int:
    """Bytes written to `fd` that its reader has not taken yet (0 when the kernel cannot
    tell: the bytes are then counted as taken, as on a file)."""
    import array
    import fcntl

    count = array.array("i", [0])
    try:
        fcntl.ioctl(fd, request, count)
    except OSError:
        return 0
    return count[0]


def _build(settings: Settings, recipients: Sequence[str] = ()) -> StdoutDeliverer:
    return StdoutDeliverer(settings.format, wait=settings.stdout_wait)


def _describe(settings: Settings) -> str:
    return "standard output"


CHANNEL = Channel("stdout", ("format", "stdout_wait"), _build, _describe, previews_itself=True)
