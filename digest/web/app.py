"""The web application: the files the archive wrote, and nothing else its folder holds, each
sent as it was when opened; the security headers on every answer. Its routes are one list:
pages of their own (a reader's, say) are routes added before the archive's catch-all."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.archive import FEED, INDEX, MANIFEST, published

log = logging.getLogger(__name__)

# No script at all, styles inline (the digest's mail HTML carries them so), images from the
# web (a template of the user's own may show some), no framing, forms only to this site.
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:;"
        " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
HTML = "text/html; charset=utf-8"  # the index and every digest's page
TYPES = {
    FEED: "application/atom+xml; charset=utf-8",
    MANIFEST: "application/json; charset=utf-8",
}
CHUNK = 64 * 1024


class Guard:
    """Around everything the application answers, errors included: HEADERS on every answer;
    a Location only ever a path of this site, so that no redirect is built from the request's
    Host; a failure answered 500 and logged in one line, never with a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": _secured(message.get("headers", []))}
            await send(message)

        try:
            await self.app(scope, receive, guarded)
        except ClientDisconnect:
            return  # the client left before its request was read: no one to answer
        except Exception as e:
            # Never the address: a reader's token is in it.
            log.error("a request could not be answered: unexpected error (%s)", type(e).__name__)
            log.debug("the error in detail", exc_info=True)
            if not started:
                await PlainTextResponse("server error\n", 500)(scope, receive, guarded)


def _secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [
        (k, _own_path(v) if k.lower() == b"location" else v)
        for k, v in headers
        if k.decode("latin-1").lower() not in HEADERS
    ]
    return kept + [(k.encode(), v.encode()) for k, v in HEADERS.items()]


def _own_path(location: bytes) -> bytes:
    """A Location as a path of this site: the host and scheme dropped, and nothing that a
    browser would read as another host (//, a backslash, a tab) left at its start."""
    parts = urlsplit(location.decode("latin-1"))
    path = "/" + quote(parts.path.lstrip("/\\\t\r\n "), safe="/%:@!$&'()*+,;=-._~")
    query = "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?") if parts.query else ""
    return (path + query).encode("latin-1")


class ArchiveFile(Response):
    """A file of the archive as it is when opened: its length, its validators and its body
    all from the one open descriptor (fstat, then reads). The archive replaces a file by
    renaming a new one over it, so a rewrite meanwhile leaves the opened one whole: never a
    length from one file and a body from another."""

    def __init__(self, path: Path, media_type: str) -> None:
        super().__init__(media_type=media_type)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        opened = await run_in_threadpool(_open, self.path)
        if opened is None:
            await _not_found(scope, receive, send)
            return
        fd, found = opened
        try:
            validators = {
                "etag": _etag(found),
                "last-modified": formatdate(found.st_mtime, usegmt=True),
            }
            left = found.st_size
            if _unchanged(validators, Headers(scope=scope)):
                status, headers, left = 304, validators, 0
            else:
                status = 200
                headers = {
                    **validators,
                    "content-length": str(left),
                    "content-type": self.media_type or HTML,
                }
            if scope["method"] == "HEAD":
                left = 0
            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await self._body(fd, left, send)
        finally:
            os.close(fd)

    async def _body(self, fd: int, left: int, send: Send) -> None:
        more = True
        while more:
            chunk = await run_in_threadpool(os.read, fd, min(CHUNK, left)) if left else b""
            if left and not chunk:  # cut short in place by another program: cannot be whole
                log.warning("%s was cut short while being sent", self.path.name)
                return
            left -= len(chunk)
            more = left > 0
            await send({"type": "http.response.body", "body": chunk, "more_body": more})


def _open(path: Path) -> tuple[int, os.stat_result] | None:
    """The file opened for reading, and its status from the open descriptor; None for
    anything but a regular file in its own name (a symbolic link, a pipe, a folder, none)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode):
        os.close(fd)
        return None
    return fd, found


def _etag(found: os.stat_result) -> str:
    """Another value for every file written: each rewrite is a new file (a rename over it)."""
    seen = f"{found.st_ino}-{found.st_mtime_ns}-{found.st_size}"
    return '"' + hashlib.sha256(seen.encode()).hexdigest()[:32] + '"'


def _unchanged(validators: dict[str, str], asked: Headers) -> bool:
    """Whether the conditional request's copy is this one (RFC 9110: If-None-Match first)."""
    if match := asked.get("if-none-match"):
        tags = [tag.strip().removeprefix("W/") for tag in match.split(",")]
        return "*" in tags or validators["etag"] in tags
    try:
        since = parsedate_to_datetime(asked["if-modified-since"])
        return since >= parsedate_to_datetime(validators["last-modified"])
    except (KeyError, TypeError, ValueError):
        return False


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("not found\n", status_code=404)(scope, receive, send)


def archive_routes(folder: Path) -> list[BaseRoute]:
    """The archive: the files it writes (the index for /, the digests' pages, the feed, the
    manifest), each under its type; any other name is not found, whatever lies in the
    folder under it (settings, the state, someone's mail, a link that leads out)."""

    async def answer(request: Request) -> Response:
        name = request.path_params["name"] or INDEX
        if not published(name):
            return PlainTextResponse("not found\n", status_code=404)
        return ArchiveFile(folder / name, TYPES.get(name, HTML))

    return [Route("/{name:path}", answer, methods=["GET", "HEAD"])]


def make_app(folder: Path | None, routes: list[BaseRoute] | None = None) -> ASGIApp:
    """The application serving the archive `folder` (if any); `routes` come before the
    archive's."""
    archived = archive_routes(folder) if folder is not None else []
    app = Starlette(routes=[*(routes or []), *archived])
    app.router.redirect_slashes = False  # its redirect would be built from the request's Host
    return Guard(app)
