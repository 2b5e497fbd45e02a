"""Running the web application under uvicorn, its log lines among ours."""

from __future__ import annotations

import logging
import signal
import socket
from pathlib import Path

from digest.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.settings import Settings

log = logging.getLogger(__name__)


def serve(folder: Path | None, bind: str, port: int, settings: Settings | None = None) -> int:
    """Serve the archive `folder` on `bind`:`port` until stopped (Ctrl-C, SIGTERM); with
    `settings`, each reader's pages too, on their state (only those, without a folder)."""
    try:
        import uvicorn

        from digest.web.app import make_app
        from digest.web.readers import reader_routes
    except ImportError:
        raise ConfigError(
            "digest web needs the web extra, which is not installed; run: pip install 'digest[web]'"
        ) from None
    if folder is not None and not (folder / "index.html").is_file():
        log.warning("%s holds no index.html yet; build it with `digest archive`", folder)
    shown = f"[{bind}]" if ":" in bind else bind
    listening = _listen(bind, port, f"{shown}:{port}")
    ours = logging.getLogger("digest")
    for name in ("uvicorn", "uvicorn.error"):  # its warnings among ours; no access log
        theirs = logging.getLogger(name)
        theirs.handlers[:] = ours.handlers
        theirs.setLevel(logging.WARNING)
        theirs.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # visitors' addresses: not ours to keep
    what = folder if folder is not None else "the readers' pages only (no DIGEST_ARCHIVE)"
    log.info("serving %s on http://%s:%d/", what, shown, listening.getsockname()[1])
    routes = reader_routes(settings) if settings is not None else []
    config = uvicorn.Config(make_app(folder, routes), log_config=None, server_header=False)
    # uvicorn stops gracefully on SIGTERM, then raises it again for the handler it found:
    # with this one, the command ends with 0, a stop asked for (as it does before uvicorn
    # has taken the signal over).
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.Server(config).run(sockets=[listening])
    return 0


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _listen(bind: str, port: int, shown: str) -> socket.socket:
    """A socket bound to the address, so that a port in use or an address not of this
    machine is one line naming the settings (uvicorn would log a traceback-like error)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        why = e.strerror or str(e)
        raise ConfigError(
            f"cannot listen on {shown}: {why}; set DIGEST_WEB_BIND and DIGEST_WEB_PORT"
            " (or --bind and --port)"
        ) from None
    return sock
