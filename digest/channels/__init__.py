"""Where a digest goes: one module a channel, each declaring the settings it reads, how its
deliverer is built from them, and what it says it does; the registry below names them.

    base.py     the Deliverer protocol, and what a deliverer may need ("eml", formats)
    files.py    the digest as files in a folder (every format, and the .eml)
    stdout.py   one format on standard output
    smtp.py     the mail message over SMTP
    preview.py  a dry run: one format into a preview file, nothing recorded

A new channel is one module with a CHANNEL, and its line in CHANNELS.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from digest.channels.base import Deliverer
    from digest.config import Settings

# name (DIGEST_DELIVER) -> the module that holds its CHANNEL
CHANNELS = {
    "files": "digest.channels.files",
    "stdout": "digest.channels.stdout",
    "smtp": "digest.channels.smtp",
}
PREVIEW = "digest.channels.preview"  # what a dry run delivers with


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel: the settings it reads (Settings fields), how its deliverer is built
    (with the addresses of `digest resend --to`, for those that mail), and its description
    for the service's start-up line. A channel that `previews_itself` delivers as usual in a
    dry run (printing to standard output records nothing anyway)."""

    name: str
    settings: tuple[str, ...]
    build: Callable[[Settings, Sequence[str]], Deliverer]
    describe: Callable[[Settings], str]
    previews_itself: bool = False


def channel(name: str) -> Channel:
    """The channel registered under `name`; the preview's with "preview"."""
    found: Channel = import_module(PREVIEW if name == "preview" else CHANNELS[name]).CHANNEL
    return found


def deliverer(settings: Settings, *, dry_run: bool, recipients: Sequence[str] = ()) -> Deliverer:
    """The deliverer of DIGEST_DELIVER, or the preview's in a dry run."""
    chosen = channel(settings.deliver)
    if dry_run and not chosen.previews_itself:
        chosen = channel("preview")
    return chosen.build(settings, recipients)


def describe(settings: Settings) -> str:
    """Where digests go, in a few words, for the start-up line."""
    return channel(settings.deliver).describe(settings)
