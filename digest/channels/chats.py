"""Each reader's chat messages (their `notify` URLs in the readers file), kept in the state
(digest.state.chats) and sent as the outbox delivers a digest: recorded pending once the
digest is delivered, each attempt recorded before it is made and its outcome after, claimed
by the worker sending it (so that of several services one sends it), tried again with the
mail's backoff (DIGEST_RETRY_SECONDS, doubled each time, up to 6 hours; `digest now` at once)
when the failure may pass (a 5xx or 429, a timeout, no connection), and never again when it
will not (a 4xx, a URL Apprise cannot use), logged once. None of it holds the mail back or
undoes it: the digest counts as delivered once its mail went."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.errors import ConfigError, DeliveryError, TransientDeliveryError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.chats import Chat
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Address:
    """Where a chat goes: a reader's URL, its place among their `notify` URLs, and what
    names it in lines (the readers file, the reader's line, the reader)."""

    url: str
    position: int
    setting: str


# A chat's address as the readers file gives it now (None: the URL is no longer the reader's).
Find = Callable[["Chat"], Address | None]
# Posts a chat's title and body to its address (Apprise, see digest.channels.notify).
Post = Callable[[Address, str, str], None]


def target(url: str) -> str:
    """How a chat names its URL in the state: by its SHA-256, since a URL often holds a
    token, which stays in the readers file."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def send_new(
    store: StateStore,
    chat_ids: Iterable[int],
    find: Find,
    post: Post,
    now: datetime,
    first_retry: timedelta,
) -> None:
    """Send the chats just recorded, each claimed first."""
    try:
        for chat_id in chat_ids:
            chat = store.claim_chat(chat_id)
            if chat is not None:
                send(store, chat, find(chat), post, now, first_retry)
    finally:
        store.let_go_of_chats()


def retry(
    store: StateStore,
    find: Find,
    post: Post,
    now: datetime,
    first_retry: timedelta,
    *,
    every: bool = False,
) -> None:
    """Send the pending chats due at `now` (with `every`, each pending one), oldest first,
    each claimed first: those another worker holds are skipped, not waited for. Once several
    in a row failed for now, the others wait for a later look."""
    from digest.retries import FAILURES_IN_A_ROW

    due, failing = None if every else now, 0
    try:
        for chat_id in store.chats_due(due):
            chat = store.claim_chat(chat_id, due)
            if chat is None:
                continue
            failing = failing + 1 if send(store, chat, find(chat), post, now, first_retry) else 0
            if failing >= FAILURES_IN_A_ROW:
                log.warning(
                    "%d chat messages in a row failed for now; the others are tried later",
                    failing,
                )
                return
    finally:
        store.let_go_of_chats()


def send(
    store: StateStore,
    chat: Chat,
    address: Address | None,
    post: Post,
    now: datetime,
    first_retry: timedelta,
) -> bool:
    """Send one claimed chat, the attempt recorded before and its outcome after (as
    `pipeline.send` delivers a digest); whether it failed for now. A StoreError is raised
    as it comes: a chat whose outcome was not recorded is tried once more at most."""
    from digest.retries import IN_FLIGHT, UNRECORDED_LIMIT, backoff

    if address is None:  # the reader's file no longer names it: it asks for nothing
        why = f"reader {chat.reader_key}: notify: {chat.shown} is no longer theirs; not sent"
        store.chat_failed(chat.id, why)
        log.info("digest %s: %s", chat.digest_id, why)
        return False
    wait = backoff(first_retry, chat.attempts)
    unrecorded = store.chat_attempt(chat.id, now + min(wait, IN_FLIGHT))
    if unrecorded >= UNRECORDED_LIMIT:
        why = (
            f"{address.setting}: {chat.shown}: held, not sent again: the outcome of its last"
            f" {unrecorded} attempts could not be recorded, and one may have reached it"
        )
        store.chat_failed(chat.id, why)
        log.error("digest %s: %s", chat.digest_id, why)
        return False
    try:
        post(address, chat.title, chat.body)
    except TransientDeliveryError as e:
        said = _said(address, e)
        store.chat_retry(chat.id, said, now + wait)
        log.warning("digest %s: %s; tried again in %gs", chat.digest_id, said, wait.total_seconds())
        return True
    except (ConfigError, DeliveryError) as e:
        _failed(store, chat, _said(address, e))
        return False
    except Exception as e:  # whatever Apprise does costs this chat only, as a refusal does
        _failed(
            store,
            chat,
            f"{address.setting}: URL {address.position}: unexpected error ({type(e).__name__})",
        )
        log.debug("the error in detail", exc_info=True)
        return False
    store.chat_sent(chat.id)
    return False


def _said(address: Address, error: Exception) -> str:
    """The error's line, naming the reader's setting once."""
    said = str(error)
    return said if said.startswith(address.setting) else f"{address.setting}: {said}"


def _failed(store: StateStore, chat: Chat, why: str) -> None:
    """A chat refused for good: recorded, and said once."""
    store.chat_failed(chat.id, why)
    log.warning("digest %s: %s; not tried again", chat.digest_id, why)
