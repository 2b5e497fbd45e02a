"""The public digest of a readers file: what the archive (DIGEST_ARCHIVE) shows when every
reader's digest is their own.

Once a run, whatever the number of readers, after their digests are made: every paper
offered since the last public digest, in the listing's order (no reader's highlights,
interests or cap); or, with DIGEST_ARCHIVE_READER, that reader's digests made since, as
they received them, without the links that are theirs (their token). It goes to no one:
it is kept in the outbox as the digest of the state's public reader (the one of DIGEST_TO
without a readers file), already delivered (digest.state.published), and its page, the
index and the feed are written from there, so `digest archive` builds it again. That
reader's position is how far the archive goes: a run that could not publish leaves its
papers to the next, and without an archive folder it simply moves on with every run.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from digest.errors import ConfigError, DigestError, StoreError
from digest.models import Digest, Outgoing, ReaderState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from digest.settings import Settings
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)

NEEDS = frozenset({"html", "json"})  # what the archive's pages and feed are made of
MARK = "public_since"  # the service's value that says the public reader is kept moving


def publish(
    settings: Settings,
    store: StateStore,
    states: Mapping[str, ReaderState],
    base: Digest,
    now: datetime,
) -> list[str]:
    """After a run of the readers file: its public digest, kept and archived (`base` is
    the run's digest before any reader's shaping; `states` the readers as the run found
    them). Returns a line for each thing that went wrong, for the run's report."""
    try:
        public = store.join({"": None})[""]
        end = store.end()
        if MARK not in store.service_state():
            # The first run that keeps it (a state of a readers file from before, or of the
            # one reader of DIGEST_TO): the public digest starts with this run's papers, not
            # with every paper the state was given since that reader's last digest.
            start = end - len(base.new_papers)
            if start > public.upto:
                store.publish(None, public.upto, start, "", now)
                public = dataclasses.replace(public, upto=start)
            store.set_service_state(**{MARK: now.isoformat(timespec="seconds")})
        if settings.archive is None:  # nothing to publish: the archive starts from here
            if end > public.upto:
                store.publish(None, public.upto, end, "", now)
            return []
        from digest.channels.archive import ArchiveDeliverer, archive

        # A folder that cannot be one is said before anything is kept: it waits for the fix.
        site = ArchiveDeliverer(archive(settings))
        if settings.archive_reader:
            items = list(_theirs(settings, store, states, public.upto))
        elif end > public.upto:
            items = [_everything(settings, store, base, public.upto, end)]
        else:
            items = []
    except DigestError as e:  # a bad setting, a template, the state: said in one line
        return [_failed(e)]
    note = f"the public digest, archived in {settings.archive}"
    at = public.upto
    for item, upto in items:
        if upto <= at:
            continue  # goes no further than what is archived already
        try:
            digest_id = store.publish(item, at, upto, note, now)
            stored = store.get(digest_id) if digest_id is not None else None
        except StoreError as e:
            return [_failed(e)]
        if digest_id is None:
            return []  # another run published it meanwhile
        at = upto
        if stored is not None:
            log.info("the public digest of %d papers is archived", stored.paper_count)
            site.after_sent(store, stored)  # a failure is logged; the next digest catches up
    return []


def _failed(e: Exception) -> str:
    line = f"the public digest was not archived: {e}; it waits for the next run"
    log.error("%s", line)
    return line


def _everything(
    settings: Settings, store: StateStore, base: Digest, after: int, end: int
) -> tuple[Outgoing, int]:
    """Every paper offered after `after`, in order, rendered for no one: no token, no To."""
    from digest import letters
    from digest.interests import Interests

    papers = [p for _, p in store.offered(after, end)]
    digest = letters.shaped(base, papers, Interests())
    options = letters.mail_options(settings, unsubscribe="")
    return letters.outgoing(digest, settings, needs=NEEDS, options=options), end


def _theirs(
    settings: Settings,
    store: StateStore,
    states: Mapping[str, ReaderState],
    after: int,
) -> list[tuple[Outgoing, int]]:
    """The digests made for DIGEST_ARCHIVE_READER past position `after`, oldest first, each
    as the public digest of the positions it goes to."""
    from digest.addresses import address_key
    from digest.settings import addresses

    [address] = addresses(settings.archive_reader, "DIGEST_ARCHIVE_READER")
    reader = states.get(address_key(address.addr_spec))
    if reader is None:
        raise ConfigError(
            f"DIGEST_ARCHIVE_READER={address.addr_spec} is no reader of the readers file"
            f" {settings.readers}; add them to it, or name one of its readers"
        )
    made = []
    for digest_id in store.made_past(reader.id, after):
        found = store.get(digest_id)
        if found is None or found.upto is None:
            continue
        if not found.part("html"):
            log.error("digest %s of DIGEST_ARCHIVE_READER has no page to archive", digest_id)
            continue
        copy = public_copy(found, reader, settings.unsubscribe)
        if copy is None:
            log.error(
                "digest %s of DIGEST_ARCHIVE_READER is not archived: it shows their address"
                " or token outside the links of theirs that the archive leaves out (a"
                " template of your own?)",
                digest_id,
            )
            continue
        made.append((copy, found.upto))
    return made


def public_copy(item: Outgoing, reader: ReaderState, unsubscribe: str) -> Outgoing | None:
    """A reader's digest as the public sees it: its page and data without their own links
    (unsubscribe, preferences, more or less like this); None when their token or address
    is still in it."""
    from email.utils import make_msgid

    from digest.archive import without_tokens

    parts = {fmt: item.part(fmt) for fmt in NEEDS if item.part(fmt)}
    parts["html"] = without_tokens(parts["html"], unsubscribe)
    own = [s.lower() for s in (reader.token, reader.key) if s]
    if any(s in text.lower() for text in parts.values() for s in own):
        return None
    domain = item.message_id.rpartition("@")[2].rstrip(">") or "digest.invalid"
    return dataclasses.replace(
        item,
        id=0,
        status="pending",
        message_id=make_msgid("digest", domain=domain),  # not the reader's own
        parts=parts,
        eml=None,
        attempts=0,
        last_error=None,
        sent_at=None,
        next_attempt=None,
        delivery_note=None,
        reader=None,
        after=None,
        upto=None,
        shared=None,
        reader_key=None,
    )
