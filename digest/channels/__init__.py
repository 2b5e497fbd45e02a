"""Where a digest goes: one module a channel, each declaring the settings it reads, how its
deliverer is built from them, and what it says it does; the registry below names them.

    base.py     the Deliverer protocol
    declare.py  what a channel is (Channel), what a deliverer may need; session() and stop()
    files.py    the digest as files in a folder (every format, and the .eml)
    stdout.py   one format on standard output
    smtp.py     the mail message over SMTP
    preview.py  a dry run: one format into a preview file, nothing recorded
    archive.py  beside the chosen channel: each digest a page of the archive, index and feed
                (with a readers file, the public digest's instead: digest.public)
    notify.py   beside the chosen channel: a short chat message through Apprise
    beside.py   the chosen channel, then those beside it, which never fail the digest

A new channel is one module with a CHANNEL, and its line in CHANNELS (DIGEST_DELIVER's
choices) or BESIDE; its CHANNEL names the settings it reads and checks them (`checks`, run by
digest.config when the settings are loaded, for every channel: the mail's settings are also
the files' .eml).
"""

from __future__ import annotations

from importlib import import_module

from digest.channels.declare import ALL_FORMATS as ALL_FORMATS
from digest.channels.declare import EVERYTHING as EVERYTHING
from digest.channels.declare import MAIL as MAIL
from digest.channels.declare import Channel as Channel
from digest.channels.declare import session as session
from digest.channels.declare import stop as stop

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from digest.channels.base import Deliverer
    from digest.settings import Settings

# name (DIGEST_DELIVER) -> the module that holds its CHANNEL
CHANNELS = {
    "files": "digest.channels.files",
    "stdout": "digest.channels.stdout",
    "smtp": "digest.channels.smtp",
}
PREVIEW = "digest.channels.preview"  # what a dry run delivers with
# Channels that go beside the chosen one, each when its setting (the key) is set.
BESIDE = {
    "archive": "digest.channels.archive",
    "notify": "digest.channels.notify",
}


def channel(name: str) -> Channel:
    """The channel registered under `name`; the preview's with "preview"."""
    module = PREVIEW if name == "preview" else CHANNELS.get(name) or BESIDE[name]
    found: Channel = import_module(module).CHANNEL
    return found


def checks() -> list[Callable[[Settings], None]]:
    """The checks of every channel's settings, in the registry's order."""
    found = (channel(name).check for name in [*CHANNELS, *BESIDE])
    return [check for check in found if check is not None]


def deliverer(settings: Settings, *, dry_run: bool, recipients: Sequence[str] = ()) -> Deliverer:
    """The deliverer of DIGEST_DELIVER, or the preview's in a dry run; with the channels
    beside it that are set (not in a dry run, nor for a resend to a few addresses)."""
    chosen = channel(settings.deliver)
    if dry_run and not chosen.previews_itself:
        chosen = channel("preview")
    main = chosen.build(settings, recipients)
    if settings.readers is not None and not (dry_run or recipients):
        from datetime import timedelta

        from digest.channels.notify import ReadersNotify  # each reader's own chat

        main = ReadersNotify(main, settings.readers, timedelta(seconds=settings.retry_seconds))
    others = [] if dry_run or recipients else _beside(settings)
    if not others:
        return main
    from digest.channels.beside import Beside

    return Beside(main, [(name, channel(name).build(settings, ())) for name in others])


def _beside(settings: Settings) -> list[str]:
    """The channels beside the chosen one that are set. They are the public digest's, the
    one reader of DIGEST_TO's: with a readers file, each reader's digest is their own, and
    the archive gets the public digest of each run instead (digest.public)."""
    chosen = [name for name in BESIDE if getattr(settings, name)]
    if settings.readers is None:
        return chosen
    if refused := [name for name in chosen if name != "archive"]:
        import logging

        logging.getLogger(__name__).warning(
            "%s: only without DIGEST_READERS for now (each reader's digest is their own); not used",
            " and ".join(f"DIGEST_{name.upper()}" for name in refused),
        )
    return []


def describe(settings: Settings) -> str:
    """Where digests go, in a few words, for the start-up line."""
    said = [channel(name).describe(settings) for name in [settings.deliver, *_beside(settings)]]
    if settings.readers is not None and settings.archive is not None:
        said.append(f"the public digest to {channel('archive').describe(settings)}")
    return ", and ".join(said)
