"""The archive: a static site of the digests delivered, with an Atom feed.

    index.html            the digests by listing day, newest first, and a link to the feed
    <day>-<id>.html       one digest as it was delivered, every abstract whole (the outbox's
                          HTML part, which is never cut to a mail's size)
    feed.xml              an Atom feed of the last digests: one entry a digest, or one a paper
    digests.json          the index as data; a delivery adds its digest to it instead of
                          reading every digest of the state again

A page is named by the newest listing day its digest covers and the digest's number, both
fixed once the digest is stored, so a page's address never changes. Links are relative:
the folder works from file:// and under any web server. Every file is written atomically.
The state is read only through the StateStore protocol (`recent`, `get`, `all_readers`), so
the archive is the same on every backend. It is the public digest's: the one reader of
DIGEST_TO's, or with a readers file the one made for no one (digest.public), never a
reader's own, and never with a reader's unsubscribe token. `feed` also makes a reader's
private feed of their own digests (`digest web`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import ConfigError
from digest.models import Outgoing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from digest.state.protocol import StateStore

INDEX = "index.html"
FEED = "feed.xml"
MANIFEST = "digests.json"
FEED_DIGESTS = 20  # digests the feed covers
FEED_PAPERS = 200  # at most this many entries when the feed has one a paper
FEED_AUTHORS = 20  # names in a paper's one author element
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_PAGE = re.compile(r"\d{4}-\d{2}-\d{2}-\d{4,}\.html")


@dataclass(frozen=True, slots=True)
class Entry:
    """One digest in the index: what the index page and the feed need to name it."""

    id: int
    page: str
    day: str  # ISO listing day (the newest the digest covers), else the day it was made
    subject: str
    papers: int
    summary: str
    sent: str  # ISO time it was delivered (or made)
    # The pages before and after it in the index's order (listing day, then number), as its
    # page links to them: "" for none. A new digest's page rewrites its neighbour's.
    before: str = ""
    after: str = ""


def _data(outgoing: Outgoing) -> dict[str, Any]:
    """The digest's JSON part, as data (empty when the digest was stored without it)."""
    try:
        data = json.loads(outgoing.part("json") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def listing_day(outgoing: Outgoing) -> str:
    """The newest listing day (ISO) the digest covers; the day it was made when its dumps
    give no year (text dumps)."""
    data = _data(outgoing)
    found = [
        item.get("listed")
        for key in ("papers", "more", "dumps")
        for item in data.get(key) or ()
        if isinstance(item, dict)
    ]
    days = [d for d in found if isinstance(d, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)]
    return max(days) if days else f"{outgoing.created:%Y-%m-%d}"


def page_name(outgoing: Outgoing) -> str:
    """The digest's page: 2025-07-22-0031.html, from its listing day and number."""
    return f"{listing_day(outgoing)}-{outgoing.id:04d}.html"


def published(name: str) -> bool:
    """Whether `name` is a file the archive writes, the only ones it publishes: the index,
    the feed, the manifest and the digests' pages. Nothing else of its folder (a dot-file,
    a temporary file, whatever else lies there) is ever part of the site."""
    return name in (INDEX, FEED, MANIFEST) or _PAGE.fullmatch(name) is not None


def _when(outgoing: Outgoing) -> datetime:
    moment = outgoing.sent_at or outgoing.created
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def entry(outgoing: Outgoing) -> Entry:
    """The digest's line in the index."""
    return Entry(
        id=outgoing.id,
        page=page_name(outgoing),
        day=listing_day(outgoing),
        subject=outgoing.subject,
        papers=outgoing.paper_count,
        summary=str(_data(outgoing).get("summary") or ""),
        sent=_when(outgoing).isoformat(timespec="seconds"),
    )


def without_tokens(html: str, unsubscribe: str) -> str:
    """The page without the reader's own links: DIGEST_UNSUBSCRIBE with {token} is a link
    that unsubscribes its reader, and the pages beside it (preferences, more or less like a
    paper) change what they get: none is for a public page."""
    if "{token}" not in unsubscribe:
        return html
    from html import escape

    from digest.render.mail import reader_page

    html = re.sub(r'<tr><td class="pad taste">.*?</td></tr>\n?', "", html, flags=re.S)
    pages = [reader_page(unsubscribe, name) for name in ("preferences", "like")]
    for template in filter(None, (unsubscribe, *pages)):
        before, _, after = escape(template, quote=True).partition("{token}")
        link = re.escape(before) + r"[A-Za-z0-9_.~%-]+" + re.escape(after)  # whatever its form
        html = re.sub(
            rf'<a\b[^>]*href="{link}(\?[^"]*)?"[^>]*>.*?</a>( &middot;)?', "", html, flags=re.S
        )
    return html


def page(outgoing: Outgoing, unsubscribe: str = "", before: str = "", after: str = "") -> str:
    """The digest's page: its HTML part, with links to the previous and next digests' pages
    (`before`, `after`, when there are), the index and the feed at the top (and without a
    reader's unsubscribe link, when DIGEST_UNSUBSCRIBE makes one a reader)."""
    link = '<a href="{}" style="display:inline-block;padding:12px 0;color:#0b57d0">{}</a>'
    links = [
        *([link.format(before, "&lsaquo; Previous")] if before else []),
        link.format(INDEX, "All digests"),
        link.format(FEED, "Atom feed"),
        *([link.format(after, "Next &rsaquo;")] if after else []),
    ]
    nav = (
        '<nav style="max-width:600px;margin:0 auto;padding:0 12px;font:14px/1.4 -apple-system,'
        "'Segoe UI',Helvetica,Arial,sans-serif\">" + " &middot; ".join(links) + "</nav>"
    )
    html = without_tokens(outgoing.part("html"), unsubscribe)
    found = _BODY.search(html)
    if found is None:  # a template of the user's own without a <body>: the links come first
        return nav + html
    return html[: found.end()] + nav + html[found.end() :]


def index_page(entries: Iterable[Entry], title: str, templates: Path | None = None) -> str:
    """The index: the digests grouped by listing day, newest first."""
    from digest.render.templates import environment
    from digest.render.views import day

    by_day: dict[str, list[Entry]] = {}
    for e in sorted(entries, key=lambda e: (e.day, e.id), reverse=True):
        by_day.setdefault(e.day, []).append(e)
    groups = [(day(d), items) for d, items in by_day.items()]
    template = environment(templates).get_template("archive.html.j2")
    return template.render(title=title, groups=groups, feed=FEED)


# -- the feed -------------------------------------------------------------------------------


def _link(base: str, name: str) -> str:
    """A link to a file of the archive: absolute under DIGEST_ARCHIVE_URL, else relative."""
    from urllib.parse import urljoin

    return urljoin(base, name) if base else name


def _message_uri(outgoing: Outgoing) -> str:
    """The digest's lasting identifier: its Message-ID as a mid: URI (RFC 2392)."""
    from urllib.parse import quote

    return "mid:" + quote(outgoing.message_id.strip("<>"), safe="@!$&'()*+,;=.-_~")


def _papers(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for key in ("papers", "more") for p in data.get(key) or () if isinstance(p, dict)]


def feed(
    items: Iterable[Outgoing],
    *,
    title: str,
    feed_id: str,
    base: str = "",
    per: str = "digest",
    now: datetime | None = None,
    templates: Path | None = None,
    own: str | None = None,
) -> bytes:
    """The Atom feed of these digests (newest first): one entry a digest, or one a paper
    (`per` is "paper"), each linking to its digest's page. With `own` (the feed's own
    address), a reader's private feed: one entry a digest, its content the digest's HTML
    as it was delivered to them, and no page of the archive (it has none of theirs)."""
    from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]

    from digest import __version__
    from digest.render.templates import environment
    from digest.render.tex import unicode

    env = environment(templates)
    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title(title)
    fg.author({"name": title})
    fg.link(href=own or _link(base, FEED), rel="self", type="application/atom+xml")
    if own is None or base:  # a private feed's site is the public archive, when it has one
        fg.link(href=_link(base, INDEX), rel="alternate", type="text/html")
    fg.generator("digest", version=__version__)
    fg.language("en")
    chosen = list(items)
    papers: list[tuple[Outgoing, int, dict[str, Any]]] = []
    seen: set[str] = set()
    if per == "paper" and own is None:  # the newest papers first, at most FEED_PAPERS of them
        for outgoing in chosen:
            for n, paper in enumerate(_papers(_data(outgoing)), 1):
                paper_id = str(paper.get("link") or f"{_message_uri(outgoing)}/{n}")
                if paper_id not in seen and len(papers) < FEED_PAPERS:
                    seen.add(paper_id)
                    papers.append((outgoing, n, {**paper, "id": paper_id}))
    # feedgen lists entries in the reverse order of adding them: add the oldest first.
    for outgoing in reversed(chosen):
        when = _when(outgoing)
        link = _link(base, page_name(outgoing))
        if per == "digest" or own is not None:
            data = _data(outgoing)
            fe = fg.add_entry()
            fe.id(_message_uri(outgoing))
            fe.title(outgoing.subject)
            if own is None:
                fe.link(href=link, rel="alternate", type="text/html")
            fe.published(outgoing.created if outgoing.created.tzinfo else when)
            fe.updated(when)
            fe.summary(str(data.get("summary") or outgoing.subject))
            body = outgoing.part("html") if own is not None else ""
            body = body or env.get_template("feed-digest.html.j2").render(
                summary=data.get("summary") or "",
                papers=_papers(data),
                page=link if own is None else "",
            )
            fe.content(body, type="html")
    for outgoing, _, paper in reversed(papers):
        when = _when(outgoing)
        link = _link(base, page_name(outgoing))
        fe = fg.add_entry()
        fe.id(paper["id"])
        fe.title(unicode(str(paper.get("title") or "")) or "(untitled)")  # TeX as Unicode
        # One link an entry: feedgen 1.0 writes entry links without their rel, so a second
        # one would read as a second alternate. The digest's page is linked from the content.
        fe.link(href=str(paper.get("page_url") or paper.get("link")), rel="alternate")
        # One author element for the paper's list: a feed reader shows the last of several
        # as the paper's only author. The content has the shortened list.
        names = [str(n) for n in paper.get("authors") or ()]
        if names:
            shown = names if len(names) <= FEED_AUTHORS else [*names[:FEED_AUTHORS], "et al."]
            fe.author({"name": ", ".join(shown)})
        fe.updated(when)
        fe.published(when)
        body = env.get_template("feed-paper.html.j2").render(paper=paper, page=link)
        fe.content(body, type="html")
    newest = max((_when(o) for o in chosen), default=None)
    fg.updated(newest or now or datetime.now(UTC))
    atom: bytes = fg.atom_str(pretty=True)
    return atom


# -- the folder -----------------------------------------------------------------------------


class Archive:
    """The archive folder: pages written as digests are delivered, the index and feed kept
    up to date from the state."""

    def __init__(
        self,
        folder: Path,
        *,
        base_url: str = "",
        per: str = "digest",
        title: str = "Daily papers",
        templates: Path | None = None,
        unsubscribe: str = "",
    ) -> None:
        self.folder = folder
        self.unsubscribe = unsubscribe
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""
        self.per = per
        self.title = title
        self.templates = templates

    @property
    def feed_id(self) -> str:
        """The feed's identifier: its public address, else the folder's file: URI."""
        if self.base_url:
            return self.base_url + FEED
        return self.folder.resolve().as_uri() + "/" + FEED

    def url_of(self, outgoing: Outgoing) -> str | None:
        """The public address of the digest's page, when DIGEST_ARCHIVE_URL gives one."""
        return self.base_url + page_name(outgoing) if self.base_url else None

    def _write(self, name: str, data: str | bytes) -> None:
        from digest.disk import write_atomically

        self.folder.mkdir(parents=True, exist_ok=True)
        raw = data.encode("utf-8") if isinstance(data, str) else data
        write_atomically(self.folder / name, raw, mode=0o644)  # a site: for any web server

    def write_page(self, outgoing: Outgoing, before: str = "", after: str = "") -> str:
        """Write the digest's page, linking the pages before and after it; returns its name."""
        name = page_name(outgoing)
        self._write(name, page(outgoing, self.unsubscribe, before, after))
        return name

    def _manifest(self) -> list[Entry] | None:
        """The index as last written; None when it is missing or not ours."""
        try:
            raw = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            return [Entry(**item) for item in raw["digests"]]
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def _neighbours(
        self, entries: list[Entry], items: dict[int, Outgoing], store: StateStore, fresh: set[int]
    ) -> list[Entry]:
        """The entries with the pages before and after each; a page is (re)written when it
        is new (`fresh`), missing, or its neighbours changed."""
        from dataclasses import replace

        ordered = sorted(entries, key=lambda e: (e.day, e.id))
        out: list[Entry] = []
        for n, e in enumerate(ordered):
            before = ordered[n - 1].page if n else ""
            after = ordered[n + 1].page if n + 1 < len(ordered) else ""
            stale = (e.before, e.after) != (before, after) or not (self.folder / e.page).exists()
            if e.id in fresh or stale:
                found = items.get(e.id) or store.get(e.id)
                if found is not None:
                    self.write_page(found, before, after)
            out.append(replace(e, before=before, after=after))
        return out

    def _finish(
        self,
        entries: list[Entry],
        items: dict[int, Outgoing],
        store: StateStore,
        fresh: set[int] | None = None,
    ) -> None:
        """Write the pages that are new or whose neighbours changed, the manifest, the index
        and the feed of the newest FEED_DIGESTS digests."""
        entries = self._neighbours(entries, items, store, fresh or set())
        entries.sort(key=lambda e: (e.day, e.id), reverse=True)
        listing = {"digests": [asdict(e) for e in entries]}
        self._write(MANIFEST, json.dumps(listing, ensure_ascii=False, indent=1) + "\n")
        self._write(INDEX, index_page(entries, self.title, self.templates))
        newest = sorted(entries, key=lambda e: (e.sent, e.id), reverse=True)[:FEED_DIGESTS]
        chosen = [items.get(e.id) or store.get(e.id) for e in newest]
        self._write(
            FEED,
            feed(
                [o for o in chosen if o is not None],
                title=self.title,
                feed_id=self.feed_id,
                base=self.base_url,
                per=self.per,
                templates=self.templates,
            ),
        )

    def add(self, store: StateStore, outgoing: Outgoing) -> None:
        """After a delivery: the digest's page, then the index and feed with it (and with
        any recent digest a concurrent writer left out). Without a readable digests.json,
        the whole archive is built again."""
        entries = self._manifest()
        if entries is None:
            self.build(store)
            return
        public = _public(store)
        recent = {o.id: o for o in store.recent(FEED_DIGESTS) if public(o) and o.status == "sent"}
        if public(outgoing):
            recent.setdefault(outgoing.id, outgoing)
        known = {e.id: e for e in entries}
        fresh = set()
        for item in recent.values():
            if item.id not in known:
                fresh.add(item.id)
                known[item.id] = entry(item)
        self._finish(list(known.values()), recent, store, fresh)

    def build(self, store: StateStore) -> int:
        """Build the whole archive from the outbox: a page for every digest delivered, the
        index and the feed. Reads one digest at a time. Returns how many pages it holds."""
        entries: list[Entry] = []
        kept: dict[int, Outgoing] = {}
        for outgoing in _delivered(store):  # each page written by _finish, with its neighbours
            entries.append(entry(outgoing))
            kept[outgoing.id] = outgoing
            if len(kept) > FEED_DIGESTS:  # only the newest are kept for the feed
                kept.pop(min(kept, key=lambda i: (kept[i].sent_at or kept[i].created, i)))
        self._finish(entries, kept, store, {e.id for e in entries})
        return len(entries)

    def pages(self) -> list[str]:
        """The digest pages in the folder."""
        try:
            return sorted(p.name for p in self.folder.iterdir() if _PAGE.fullmatch(p.name))
        except OSError:
            return []


def _public(store: StateStore) -> Callable[[Outgoing], bool]:
    """Whether a digest is the public one: made before there were readers, or for the
    state's public reader (the one of DIGEST_TO; with a readers file, the one made for no
    one). A reader of the readers file has a digest of their own, shaped by their
    interests and addressed to them: never published."""
    ours = {r.id for r in store.all_readers() if r.key == ""}
    return lambda o: o.reader is None or o.reader in ours


def _delivered(store: StateStore) -> Iterator[Outgoing]:
    """Every public digest delivered, oldest first, one at a time (ids count up)."""
    public = _public(store)
    newest = store.recent(1, bare=True)
    last = max((o.id for o in newest), default=0)
    for digest_id in range(1, last + 1):
        found = store.get(digest_id)
        if found is not None and found.status == "sent" and found.part("html") and public(found):
            yield found


def exposed(folder: Path, private: Iterable[tuple[str, Path | None]]) -> str | None:
    """Why the archive folder cannot be used: the first of the `private` files and folders
    (each named by its setting) that lies in it, where anything may be published; None when
    none does. Paths are compared as given and with symbolic links resolved, so that no
    link, to the folder or inside it, hides one. A folder around the archive is no harm."""
    homes = _forms(folder)
    for setting, path in private:
        if path is not None and any(p.is_relative_to(h) for p in _forms(path) for h in homes):
            named = f"{setting}={path}" if setting.startswith("DIGEST_") else f"{setting} {path}"
            return (
                f"{named} lies in the archive folder DIGEST_ARCHIVE={folder}, whose files are"
                f" published; give the archive a folder of its own, or move {setting} out of it"
            )
    return None


def _forms(path: Path) -> set[Path]:
    absolute = Path(os.path.abspath(path))
    return {absolute, absolute.resolve()}


def archive_of(settings_archive: Path | None, **options: Any) -> Archive:
    """The archive of DIGEST_ARCHIVE; refused with a message when it is not set."""
    if settings_archive is None:
        raise ConfigError("no archive folder given; set DIGEST_ARCHIVE or pass --archive DIR")
    if settings_archive.exists() and not settings_archive.is_dir():
        raise ConfigError(f"DIGEST_ARCHIVE={settings_archive} is not a folder")
    return Archive(settings_archive, **options)
