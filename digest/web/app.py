"""The web application: the archive folder's files, with the right content types and
security headers on every answer. Its routes are one list, ROUTES-style: pages of their own
(a reader's, say) are routes added before the archive's catch-all mount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.archive import FEED, MANIFEST

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
TYPES = {
    FEED: "application/atom+xml; charset=utf-8",
    MANIFEST: "application/json; charset=utf-8",
}


class SecurityHeaders:
    """Adds HEADERS to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.decode() not in HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def archive_routes(folder: Path) -> list[BaseRoute]:
    """The archive: its feed and index as data under their own types, then every file of
    the folder (index.html for /). StaticFiles refuses any path that leads out of the
    folder, a symbolic link included."""

    def typed(name: str) -> Route:
        async def answer(request: Request) -> Response:
            path = folder / name
            if not path.is_file():
                return PlainTextResponse("not found\n", status_code=404)
            return FileResponse(path, media_type=TYPES[name])

        return Route("/" + name, answer, methods=["GET", "HEAD"])

    return [
        *(typed(name) for name in TYPES),
        Mount("/", app=StaticFiles(directory=folder, html=True, check_dir=False)),
    ]


def make_app(folder: Path, routes: list[BaseRoute] | None = None, **options: Any) -> Starlette:
    """The application serving the archive `folder`; `routes` come before the archive's."""
    from starlette.middleware import Middleware

    return Starlette(
        routes=[*(routes or []), *archive_routes(folder)],
        middleware=[Middleware(SecurityHeaders)],
        **options,
    )
