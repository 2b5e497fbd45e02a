"""The chat channel: a short message through Apprise (Slack, Discord, Matrix, Telegram, ntfy,
a JSON webhook ... one URL each, DIGEST_NOTIFY), with the digest's counts, its top papers as
links and, when DIGEST_ARCHIVE_URL is set, a link to the digest's page in the archive. With
a readers file, each reader's own `notify` URLs get the message of their own digest
(ReadersNotify), once it is recorded as delivered.

Apprise URLs often hold a token or a password: they are shown only as Apprise masks them, cut
to their scheme and host (`json://user:****@host/...`), in errors, notes, logs and `digest
status` alike, and Apprise's own log lines are kept out of ours.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from digest.channels.declare import Channel
from digest.errors import ConfigError, DeliveryError, TransientDeliveryError
from digest.models import Outgoing
from digest.printable import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager
    from pathlib import Path
    from typing import Any

    from digest.channels.base import Deliverer
    from digest.channels.chats import Address
    from digest.readers import Reader
    from digest.settings import Settings
    from digest.state.chats import Chat
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)

TOP = 5  # papers named in the message
# Several URLs are separated by commas or spaces, but a comma inside one URL (a list of
# recipients in its query) is kept: only a separator followed by a new scheme splits.
_SPLIT = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")
_STATUS = re.compile(r"\berror=(\d{3})\b")


def urls(raw: str) -> list[str]:
    """The Apprise URLs of DIGEST_NOTIFY, in order."""
    return [u for u in (part.strip(" ,") for part in _SPLIT.split(raw.strip())) if u]


def _apprise(setting: str = "DIGEST_NOTIFY", undo: str = "unset DIGEST_NOTIFY") -> Any:
    try:
        with _quiet():
            import apprise
    except ImportError:
        raise ConfigError(
            f"{setting} needs Apprise, which is not installed; install digest[notify]"
            f" (pip install 'digest[notify]'), or {undo}"
        ) from None
    quiet = logging.getLogger("apprise")  # its lines may quote what we keep masked
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return apprise


@contextmanager
def _quiet() -> Iterator[None]:
    """Apprise loads its plugins on first use, and one imports imghdr, which warns that it is
    deprecated: a warning for Apprise's authors, not for our users."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _scheme(url: str) -> str:
    return url.split("://", 1)[0][:20] + "://..." if "://" in url else "(no scheme)"


def shown(private: str) -> str:
    """A URL as Apprise masks it, cut to its scheme and host: Apprise masks the passwords and
    tokens of the services it knows, but a webhook's path (json://host/hooks/TOKEN) or its
    query may be a secret too, so neither is shown."""
    base, _, _ = private.partition("?")
    scheme, sep, rest = base.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host}" + ("/..." if path.strip("/") else slash)


class Target:
    """One Apprise URL, loaded once; shown only masked. `setting` names where it was given
    (DIGEST_NOTIFY, or a reader's `notify`), and `undo` how to do without it."""

    def __init__(
        self,
        url: str,
        position: int,
        setting: str = "DIGEST_NOTIFY",
        undo: str = "unset DIGEST_NOTIFY",
    ) -> None:
        apprise = _apprise(setting, undo)
        with _quiet():
            plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise ConfigError(
                f"{setting}: URL {position} ({_scheme(url)}) is not one Apprise can use;"
                " see the Apprise documentation for the form of each service's URL"
            )
        self._plugin = plugin
        self.shown = shown(str(plugin.url(privacy=True)))

    def send(self, title: str, body: str) -> None:
        """Post the message; raises DeliveryError (TransientDeliveryError when worth trying
        again: no answer, a timeout, a 5xx, 408 or 429)."""
        apprise = _apprise()
        sender = apprise.Apprise()
        sender.add(self._plugin)
        with _quiet():
            result = sender.notify(
                title=title, body=body, body_format=apprise.NotifyFormat.MARKDOWN
            )
        if result:
            return
        statuses = [
            int(found.group(1))
            for service in getattr(result, "results", ())
            for attempt in service.attempts
            for logged in attempt
            if (found := _STATUS.search(str(getattr(logged, "message", ""))))
        ]
        status = statuses[-1] if statuses else None
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            raise DeliveryError(f"{self.shown} refused the message (HTTP {status})")
        why = f"HTTP {status}" if status else "no answer, or an error on the way"
        raise TransientDeliveryError(f"{self.shown} did not take the message ({why})")


def targets(raw: str) -> list[Target]:
    """The targets of DIGEST_NOTIFY, each checked now: a URL Apprise cannot use is refused
    with its position and scheme, never its text."""
    return [Target(url, n) for n, url in enumerate(urls(raw), 1)]


def masked(raw: str) -> list[str]:
    """DIGEST_NOTIFY's URLs as they may be shown."""
    return [_masked(url, n) for n, url in enumerate(urls(raw), 1)]


def message(outgoing: Outgoing, page_url: str | None = None) -> tuple[str, str]:
    """The title and Markdown body of the chat message: the counts, the top papers as links,
    and the link to the whole digest."""
    import json

    from digest.render.views import md_escape, md_url

    try:
        data = json.loads(outgoing.part("json") or "{}")
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    papers = [p for k in ("papers", "more") for p in data.get(k) or () if isinstance(p, dict)]
    # The counts: the papers' titles follow (the summary names the top ones too).
    said = data.get("counts") or data.get("summary") or f"{outgoing.paper_count} new papers"
    lines = [md_escape(str(said)), ""]
    for n, paper in enumerate(papers[:TOP], 1):
        title = md_escape(" ".join(str(paper.get("title") or "").split()))
        link = paper.get("page_url") or paper.get("link")
        lines.append(f"{n}. [{title}]({md_url(str(link))})" if link else f"{n}. {title}")
    if len(papers) > TOP:
        lines.append(f"... and {len(papers) - TOP} more")
    if page_url:
        lines += ["", f"[The whole digest]({page_url})"]
    return outgoing.subject, "\n".join(lines).strip() + "\n"


class NotifyDeliverer:
    """Posts the digest's short message to every DIGEST_NOTIFY URL. Fails when any of them
    failed: with TransientDeliveryError if one of those failures may pass."""

    needs = frozenset({"json"})

    def __init__(self, found: Sequence[Target], page_url: Any = None) -> None:
        self.targets = list(found)
        self._page_url = page_url  # Outgoing -> its archive page's address, or None

    def deliver(self, outgoing: Outgoing) -> str:
        title, body = message(outgoing, self._page_url(outgoing) if self._page_url else None)
        done: list[str] = []
        failed: list[DeliveryError] = []
        for target in self.targets:
            try:
                target.send(title, body)
                done.append(target.shown)
            except DeliveryError as e:
                failed.append(e)
        if not failed:
            return "notified " + ", ".join(done)
        said = "; ".join(str(e) for e in failed)
        if done:
            said += "; notified " + ", ".join(done)
        if any(isinstance(e, TransientDeliveryError) for e in failed):
            raise TransientDeliveryError(said)
        raise DeliveryError(said)


class ReadersNotify:
    """The chosen channel (`main`), then each reader's own chat notifications: once a
    reader's digest is recorded as delivered, its short message (as for DIGEST_NOTIFY) is
    recorded for each of the `notify` URLs the readers file gives them, and sent, retried
    like mail when the failure may pass (digest.channels.chats); never the digest's
    failure. The file is read again when it changes (`digest serve`); without a reader
    with `notify`, nothing more is made or done."""

    def __init__(
        self, main: Deliverer, readers: Path, first_retry: timedelta = timedelta(minutes=1)
    ) -> None:
        self.main = main
        self._file = readers
        self._first_retry = first_retry  # DIGEST_RETRY_SECONDS, as for the mail
        self._read: tuple[int, int, int] | None = None  # the file's inode, size and time
        self._loaded = False  # whether the file was ever read whole: its URLs are known
        self._urls: dict[str, tuple[Reader, tuple[str, ...]]] = {}  # key -> reader, URLs
        self._keys: dict[int, str] = {}  # the state's reader id -> key
        self.needs = main.needs
        self._reread()

    def session(self) -> AbstractContextManager[object]:
        """The chosen channel's session (one SMTP connection for messages that follow)."""
        from digest.channels.declare import session

        return session(self.main)

    def deliver(self, outgoing: Outgoing) -> str:
        return self.main.deliver(outgoing)

    def after_sent(self, store: StateStore, outgoing: Outgoing) -> None:
        from digest.channels.base import Followed
        from digest.channels.chats import send_new, target

        if isinstance(self.main, Followed):
            self.main.after_sent(store, outgoing)
        if outgoing.reader is None or not self._reread():
            return
        try:
            key = self._keys.get(outgoing.reader)
            if key is None:  # a reader joined since: the state says who they are
                self._keys = {r.id: r.key for r in store.all_readers()}
                key = self._keys.get(outgoing.reader)
            if key not in self._urls:
                return
            _, urls = self._urls[key]
            title, body = message(outgoing)
            found = [(target(url), _masked(url, n)) for n, url in enumerate(urls, 1)]
            added = store.add_chats(outgoing.id, title, body, found)
            now = datetime.now(UTC)
            send_new(store, added, self._address, _post, now, self._first_retry)
        except Exception as e:  # the digest went: nothing here may undo that
            log.error(
                "digest %s: its chat messages were not all sent (%s: %s); those recorded are"
                " tried again later",
                outgoing.id,
                type(e).__name__,
                e,
            )
            log.debug("the error in detail", exc_info=True)

    def retry_due(self, store: StateStore, now: datetime, *, every: bool = False) -> None:
        """Send the chat messages kept for later that are due (`every`: each one)."""
        from digest.channels.chats import retry

        self._reread()
        if self._loaded:  # else which URL a chat is for cannot be told yet
            retry(store, self._address, _post, now, self._first_retry, every=every)

    def _address(self, chat: Chat) -> Address | None:
        """Where a chat goes as the readers file says now (None: no longer the reader's)."""
        from digest.channels.chats import Address, target

        if chat.reader_key not in self._urls:
            return None
        reader, urls = self._urls[chat.reader_key]
        setting = f"{printable(str(self._file))}:{reader.line}: reader {reader.email}: notify"
        found = (Address(u, n, setting) for n, u in enumerate(urls, 1) if target(u) == chat.target)
        return next(found, None)

    def _reread(self) -> bool:
        """Read the readers file again if it changed; whether any reader has `notify`."""
        from digest import readers

        try:
            found = self._file.stat()
            now = (found.st_ino, found.st_size, found.st_mtime_ns)
            if now != self._read:
                self._read = now
                loaded = readers.load(self._file)
                self._urls = {r.key: (r, r.notify) for r in loaded.readers if r.notify}
                self._loaded = True
        except (OSError, ConfigError):  # the run says what is wrong; the last good one stays
            pass
        self.needs = self.main.needs | ({"json"} if self._urls else set())
        return bool(self._urls)


def _masked(url: str, position: int) -> str:
    """One URL as it may be shown (see `masked`)."""
    try:
        return Target(url, position).shown
    except ConfigError:
        return _scheme(url) + " (not usable)"


def _post(address: Address, title: str, body: str) -> None:
    """A reader's chat posted to one of their URLs."""
    to = Target(address.url, address.position, address.setting, "remove their notify")
    to.send(title, body)


def _build(settings: Settings, recipients: Sequence[str] = ()) -> NotifyDeliverer:
    page_url = None
    if settings.archive_url:
        from digest.archive import page_name

        base = settings.archive_url.rstrip("/") + "/"

        def page_url(outgoing: Outgoing) -> str:
            return base + page_name(outgoing)

    return NotifyDeliverer(targets(settings.notify), page_url)


def _describe(settings: Settings) -> str:
    return "chat notifications to " + ", ".join(masked(settings.notify))


CHANNEL = Channel("notify", ("notify", "archive_url"), _build, _describe)
