"""The archive channel: beside the chosen channel, each digest delivered becomes a page of
the archive folder (DIGEST_ARCHIVE), and the index and feed are brought up to date."""

from __future__ import annotations

import logging
from pathlib import Path

from digest.channels import Channel
from digest.errors import ConfigError, DigestError, TransientDeliveryError
from digest.models import Outgoing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from digest.archive import Archive
    from digest.settings import Settings
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)

FEED_ENTRIES = ("digest", "paper")  # DIGEST_FEED_ENTRIES: one feed entry a digest, or a paper


class ArchiveDeliverer:
    """Writes the digest's page on delivery (so that a chat message can link to it), and
    the index and feed once the digest is recorded as sent."""

    needs = frozenset({"html", "json"})

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def deliver(self, outgoing: Outgoing) -> str:
        try:
            name = self.archive.write_page(outgoing)
        except OSError as e:
            raise TransientDeliveryError(
                f"cannot write the archive page into {self.archive.folder}: {e.strerror}"
            ) from None
        return f"archived as {self.archive.folder / name}"

    def after_sent(self, store: StateStore, outgoing: Outgoing) -> None:
        try:
            self.archive.add(store, outgoing)
        except OSError as e:
            log.warning("cannot update the archive in %s: %s", self.archive.folder, e.strerror)
        except DigestError as e:
            log.warning("cannot update the archive in %s: %s", self.archive.folder, e)
        except Exception as e:  # the digest was delivered: a failure here is only logged
            log.warning(
                "cannot update the archive in %s: unexpected error (%s); `digest archive`"
                " builds it again",
                self.archive.folder,
                type(e).__name__,
            )
            log.debug("the error in detail", exc_info=True)


def archive(settings: Settings) -> Archive:
    """The archive that DIGEST_ARCHIVE and its companion settings describe."""
    from digest.archive import archive_of

    return archive_of(
        settings.archive,
        base_url=settings.archive_url,
        per=settings.feed_entries,
        templates=settings.templates,
        unsubscribe=settings.unsubscribe,
    )


def refuse_private(settings: Settings, env_file: Path | None = None) -> None:
    """Refuse an archive folder that holds the state (its secret makes every reader's token),
    the digests written for readers, the readers file or the settings (`env_file`): all the
    folder holds may be published, by `digest web` or any other web server."""
    from digest.archive import exposed
    from digest.errors import ConfigError
    from digest.settings import default_out

    if settings.archive is None:
        return
    private = [
        ("DIGEST_STATE", settings.state if isinstance(settings.state, Path) else None),
        ("DIGEST_OUT", settings.out or default_out()),
        ("DIGEST_READERS", settings.readers),
        ("the env file", env_file),
    ]
    if why := exposed(settings.archive, private):
        raise ConfigError(why)


def _build(settings: Settings, recipients: Sequence[str] = ()) -> ArchiveDeliverer:
    return ArchiveDeliverer(archive(settings))


def _describe(settings: Settings) -> str:
    return f"the archive in {settings.archive}"


def check(s: Settings) -> None:
    """The archive's settings; raises ConfigError naming the setting."""
    if s.feed_entries not in FEED_ENTRIES:
        raise ConfigError(
            f"DIGEST_FEED_ENTRIES={s.feed_entries!r} is not one of {', '.join(FEED_ENTRIES)}"
        )
    if s.archive_reader:
        _check_reader(s)
    if s.archive_url and (
        not s.archive_url.startswith(("https://", "http://"))
        or any(ch.isspace() or ch in '<>"' for ch in s.archive_url)
    ):
        raise ConfigError(
            f"DIGEST_ARCHIVE_URL={s.archive_url!r} is not an http(s) address;"
            " give the address the archive folder is served at, e.g. https://example.org/papers/"
        )


def _check_reader(s: Settings) -> None:
    """DIGEST_ARCHIVE_READER: one address, of a reader of the readers file."""
    from digest.settings import addresses

    if s.readers is None:
        raise ConfigError(
            "DIGEST_ARCHIVE_READER names a reader of the readers file, and DIGEST_READERS is"
            " not set: without one the archive is DIGEST_TO's digest; set DIGEST_READERS or"
            " leave DIGEST_ARCHIVE_READER empty"
        )
    if len(addresses(s.archive_reader, "DIGEST_ARCHIVE_READER")) != 1:
        raise ConfigError(
            "DIGEST_ARCHIVE_READER names one reader: give one address of the readers file"
        )


CHANNEL = Channel(
    "archive",
    ("archive", "archive_url", "feed_entries", "templates", "archive_reader"),
    _build,
    _describe,
    check=check,
)
