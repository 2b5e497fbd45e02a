"""Each reader's own pages, reached only through their token (the `{token}` of their
unsubscribe link): RFC 8058 one-click unsubscribe, their preferences, likes and dislikes,
and the Atom feed of their own digests.

The token in the address is the authority: a token that finds no reader (wrong, old,
malformed) gets one plain page, the same for every failure, and changes nothing. A GET
never changes anything (link scanners follow links). Every form carries a CSRF field, an
HMAC of the reader's token and the form's purpose with the state's secret, checked in
constant time; only the one-click POST of RFC 8058 goes without (a mail client sends it,
from no page). The state is opened for each request, so `digest web` runs beside the
workers on the same state, and a database that restarted is simply connected to again.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from digest.errors import ConfigError, DigestError
from digest.models import ReaderState
from digest.reader_settings import WEB, Reader, Resolved
from digest.settings import Settings
from digest.state.protocol import StateStore
from digest.web import pages
from digest.web.pages import Page, Shown

log = logging.getLogger(__name__)

TOKEN = re.compile(r"[0-9a-f]{32}")  # what digest.envelope.token makes
FORM_LIMIT = 16_384  # bytes: a preferences form is far smaller
FIELD_LIMIT = 2_000  # characters of one text field
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058's body
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
ATOM = "application/atom+xml; charset=utf-8"


def csrf(secret: bytes, token: str, purpose: str) -> str:
    """The CSRF field of one reader's form for one purpose: unforgeable without the secret."""
    return hmac.new(secret, f"form:{purpose}:{token}".encode(), "sha256").hexdigest()


def genuine(secret: bytes, token: str, purpose: str, form: Mapping[str, str]) -> bool:
    """Whether a form carries the CSRF field this site made for it (constant time)."""
    return hmac.compare_digest(csrf(secret, token, purpose), form.get("csrf", ""))


def listed_as(settings: Settings) -> str:
    """The list a reader leaves, as the unsubscribe page names it: its name, and its sender
    when DIGEST_FROM gives one ("the Daily papers digest from Daily Papers
    <papers@example.org>")."""
    from digest.render.mail import LIST_NAME

    sender = settings.sender
    return f"the {LIST_NAME}" + (f" from {sender}" if sender else "")


def one_click(form: Mapping[str, str]) -> bool:
    """Whether a POST is RFC 8058's one-click unsubscribe."""
    return form.get(ONE_CLICK[0]) == ONE_CLICK[1]


def shown(prefs: Mapping[str, object], resolved: Resolved) -> Shown:
    """What the preferences form shows: what the reader's next digest uses."""
    delivery = "pause" if resolved.paused else "send"
    if prefs.get("unsubscribed"):
        delivery = "unsubscribe"
    return Shown(delivery, **{s.name: str(getattr(resolved, s.name) or "") for s in WEB})


def chosen(
    form: Mapping[str, str], base: Resolved, prefs: Mapping[str, object]
) -> tuple[dict[str, object], Shown, list[str]]:
    """The reader's whole preferences from the form, the form's values as sent (to show them
    again), and what is wrong with them. Only what differs from the readers file (`base`)
    is kept as their own, so a later change to the file still reaches them elsewhere."""
    errors: list[str] = []
    delivery = form.get("delivery", "")
    if delivery not in ("send", "pause", "unsubscribe"):
        errors.append("Delivery: choose to send, pause or unsubscribe.")
    values = {s.name: " ".join(form.get(s.name, "").split()) for s in WEB}
    mine: dict[str, object] = {
        k: v for k, v in prefs.items() if k not in (*values, "paused", "unsubscribed")
    }
    for s in WEB:
        value = values[s.name]
        if s.web is None:  # not in WEB
            continue
        if len(value) > FIELD_LIMIT:
            errors.append(f"{s.name}: at most {FIELD_LIMIT:,} characters.")
            continue
        try:
            value = values[s.name] = s.web.take(value, s.name)
        except ConfigError as e:
            errors.append(str(e))
            continue
        if s.web.blank_is_usual and not value:
            values[s.name] = str(getattr(base, s.name) or "")  # left empty: the usual value
        elif s.web.parse(value) != getattr(base, s.name):
            mine[s.name] = value
    if delivery == "unsubscribe":
        mine["unsubscribed"] = True
    elif (delivery == "pause") != base.paused:
        mine["paused"] = delivery == "pause"
    return mine, Shown(delivery, **values), errors


class ReaderPages:
    """The pages, on the state and readers file of `settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def routes(self) -> list[BaseRoute]:
        both = ["GET", "POST"]
        return [
            Route("/unsubscribe/{token:path}", self._endpoint(self.unsubscribe), methods=both),
            Route("/preferences/{token:path}", self._endpoint(self.preferences), methods=both),
            Route("/like/{token:path}", self._endpoint(self.like), methods=both),
            Route("/feed/{token:path}", self._endpoint(self.feed), methods=["GET"]),
        ]

    # -- the shell: a request in, the state opened, a page out -----------------------------

    def _endpoint(
        self, work: Callable[[StateStore, ReaderState, Request, dict[str, str]], Page]
    ) -> Callable[[Request], Any]:
        async def answer(request: Request) -> Response:
            form: dict[str, str] | None = {}
            if request.method == "POST":
                form = await _form(request)
            if form is None:
                found = pages.too_large()
            else:
                found = await run_in_threadpool(self._with_reader, work, request, form)
            return Response(found.html, found.status, headers=NO_STORE, media_type=found.kind)

        return answer

    def _with_reader(
        self,
        work: Callable[[StateStore, ReaderState, Request, dict[str, str]], Page],
        request: Request,
        form: dict[str, str],
    ) -> Page:
        token = request.path_params["token"]
        if not TOKEN.fullmatch(token):
            return pages.not_found()
        from digest import state

        try:
            with state.open(self.settings.state) as store:
                reader = store.reader_by_token(token)
                if reader is None:
                    return pages.not_found()
                return work(store, reader, request, form)
        except Exception as e:  # the state unreachable or busy: said, never a traceback
            why = str(e) if isinstance(e, DigestError) else type(e).__name__
            log.error("a reader's page could not be shown: %s", why)
            return pages.unavailable()

    def _address(self, reader: ReaderState) -> str:
        """The reader's own address: their key, or DIGEST_TO for its one reader."""
        return reader.key or self.settings.to

    def _own(self, page: str, token: str) -> str:
        """The address of a reader's page: whole when DIGEST_UNSUBSCRIBE says where this
        site is, else its path here."""
        from digest.render.mail import reader_page

        found = reader_page(self.settings.unsubscribe, page)
        return found.replace("{token}", token) if found else f"/{page}/{token}"

    def _reader(self, key: str) -> Reader:
        """The reader of the readers file with this key (the file's values, none if gone)."""
        from digest import readers

        if self.settings.readers is None:
            return readers.default_reader(self.settings)
        try:
            loaded = readers.load(self.settings.readers)
        except ConfigError as e:
            log.error("%s", e)
            loaded = readers.Loaded((), ())
        return next((r for r in loaded.readers if r.key == key), Reader(email=key, key=key))

    # -- the pages -----------------------------------------------------------------------

    def unsubscribe(
        self, store: StateStore, reader: ReaderState, request: Request, form: dict[str, str]
    ) -> Page:
        token = request.path_params["token"]
        prefs_page = f"/preferences/{token}"
        address = self._address(reader)
        secret = store.secret()
        listed = listed_as(self.settings)
        if request.method == "POST":
            if not (one_click(form) or genuine(secret, token, "unsubscribe", form)):
                return pages.refused(f"/unsubscribe/{token}")
            store.set_prefs(reader.id, {**reader.prefs, "unsubscribed": True})
            log.info("a reader unsubscribed")
            return pages.unsubscribed(address, prefs_page, listed)
        if reader.prefs.get("unsubscribed"):
            return pages.unsubscribed(address, prefs_page, listed)
        fields = {"csrf": csrf(secret, token, "unsubscribe")}
        return pages.unsubscribe_ask(address, f"/unsubscribe/{token}", fields, prefs_page, listed)

    def preferences(
        self, store: StateStore, reader: ReaderState, request: Request, form: dict[str, str]
    ) -> Page:
        from digest import reader_settings, readers

        token = request.path_params["token"]
        action = f"/preferences/{token}"
        secret = store.secret()
        fields = {"csrf": csrf(secret, token, "preferences")}
        address = self._address(reader)
        entry = self._reader(reader.key)
        liked = store.likes(reader.id)  # each with a button that takes it back
        titles = store.titles([paper for paper, _, _ in liked])
        tastes = pages.Tastes(
            [(paper, titles.get(paper, ""), value) for paper, _, value in liked],
            f"/like/{token}",
            {"csrf": csrf(secret, token, "like")},
        )
        feed = self._own("feed", token)
        if request.method == "GET":
            now = shown(reader.prefs, reader_settings.resolve(entry, self.settings, reader))
            return pages.preferences(address, action, fields, now, tastes=tastes, feed=feed)
        if not genuine(secret, token, "preferences", form):
            return pages.refused(action)
        mine, sent, errors = chosen(form, readers.effective(entry, self.settings), reader.prefs)
        if errors:
            return pages.preferences(
                address, action, fields, sent, errors=errors, tastes=tastes, feed=feed
            )
        store.set_prefs(reader.id, mine)
        log.info("a reader changed their preferences")
        now = shown(mine, reader_settings.resolve(entry, self.settings, _with(reader, mine)))
        return pages.preferences(address, action, fields, now, saved=True, tastes=tastes, feed=feed)

    def like(
        self, store: StateStore, reader: ReaderState, request: Request, form: dict[str, str]
    ) -> Page:
        token = request.path_params["token"]
        secret = store.secret()
        asked = form if request.method == "POST" else dict(request.query_params)
        if request.method == "POST" and not genuine(secret, token, "like", form):
            return pages.refused(f"/like/{token}?{request.url.query}")
        paper, value = _paper(store, asked.get("paper")), _number(asked.get("value"))
        title = store.titles([paper]).get(paper) if paper is not None and paper > 0 else None
        if paper is None or title is None or value is None or value not in pages.LIKES:
            return pages.no_paper()
        if request.method == "GET":
            fields = {
                "paper": str(paper),
                "value": str(value),
                "csrf": csrf(secret, token, "like"),
            }
            return pages.like_ask(title, value, f"/like/{token}", fields)
        store.like(reader.id, [paper], value)
        return pages.liked(title, value)

    def feed(
        self, store: StateStore, reader: ReaderState, request: Request, form: dict[str, str]
    ) -> Page:
        """The reader's own Atom feed: the last digests delivered to them, as delivered."""
        import uuid

        from digest.archive import FEED_DIGESTS, feed

        token = request.path_params["token"]
        ids = store.delivered_to(reader.id, FEED_DIGESTS)
        base = self.settings.archive_url
        atom = feed(
            [d for d in map(store.get, ids) if d is not None],
            title="Daily papers: your digests",
            feed_id=uuid.uuid5(uuid.NAMESPACE_URL, f"digest:feed:{token}").urn,
            base=base.rstrip("/") + "/" if base else "",
            own=self._own("feed", token),
            templates=self.settings.templates,
        )
        return Page(200, atom.decode("utf-8"), ATOM)


def _with(reader: ReaderState, prefs: Mapping[str, object]) -> ReaderState:
    import dataclasses

    return dataclasses.replace(reader, prefs=prefs)


def _paper(store: StateStore, text: str | None) -> int | None:
    """The stored paper a link names: its id in the catalogue, or its arXiv id (what the
    mail's "more like this" links carry); None for one no stored paper has."""
    number = _number(text)
    if number is not None or not text or len(text) > 100:
        return number
    from digest.identity.keys import arxiv_key

    key = arxiv_key(text)
    found = store.lookup([f"x:{key}"]) if key else {}
    return next((s.id for s in found.values()), None)


def _number(text: str | None) -> int | None:
    if text is None or not re.fullmatch(r"-?[0-9]{1,18}", text):
        return None
    return int(text)


async def _form(request: Request) -> dict[str, str] | None:
    """The fields of a form (URL-encoded or multipart, as RFC 8058 allows), the first value
    of each; None when the body is larger than a form of ours could be."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return None
    kind = request.headers.get("content-type", "")
    if kind.lower().startswith("multipart/form-data"):
        return _multipart(kind, body)
    from urllib.parse import parse_qsl

    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def _multipart(kind: str, body: bytes) -> dict[str, str]:
    from email import policy
    from email.message import EmailMessage
    from email.parser import BytesParser

    head = f"Content-Type: {kind}\r\n\r\n".encode("latin-1", "replace")
    try:
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        fields: dict[str, str] = {}
        if isinstance(message, EmailMessage) and message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str) and not part.is_multipart():
                    payload = part.get_payload(decode=True)
                    if isinstance(payload, bytes):
                        fields.setdefault(name, payload.decode("utf-8", "replace"))
        return fields
    except Exception:  # a malformed body is a form with no fields
        return {}


def reader_routes(settings: Settings) -> list[BaseRoute]:
    """The reader's pages, to come before the archive's routes."""
    return ReaderPages(settings).routes()
