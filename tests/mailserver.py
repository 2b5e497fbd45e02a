"""Real SMTP servers on loopback for the tests: aiosmtpd, and raw sockets for the rude ones."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Received:
    """One message as the server received it."""

    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The message parsed back with the standard library."""
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    """Accepts mail and keeps it; or answers with the configured refusals."""

    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    data_reply: str | None = None  # e.g. "550 5.7.1 Rejected": refuse every message
    hang_up_in_data: bool = False  # the plug pulled after the message came in, before the reply
    delay: float = 0.0  # seconds to think before answering a message, like a busy server
    flaky: float = 0.0  # the share of messages answered "451 try again later", at random
    seed: int = 451  # of the random choice of those
    refused: int = 0  # messages answered 451 because of `flaky`
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    connections: set[object] = field(default_factory=set)  # the connections (client ports)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hang_up_in_data:
            server.transport.close()
            return "451 never seen by the client"
        if self.data_reply:
            return self.data_reply
        if self.flaky and self._random.random() < self.flaky:
            self.refused += 1
            return "451 4.3.0 Busy, try again later"
        self.connections.add(session.peer)
        self.keep(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def keep(self, received: Received) -> None:
        """Keep an accepted message (a server counting thousands may keep less of each)."""
        self.received.append(received)


@dataclass
class Listening:
    """Where a mail server of the tests listens."""

    host: str
    port: int

    def environment(self, security: str = "none") -> dict[str, str]:
        """The DIGEST_SMTP_* settings that point digest at this server."""
        return {
            "DIGEST_SMTP_HOST": self.host,
            "DIGEST_SMTP_PORT": str(self.port),
            "DIGEST_SMTP_SECURITY": security,
        }


@dataclass
class Server(Listening):
    """A running SMTP server: where it listens and what it received."""

    handler: Handler

    @property
    def received(self) -> list[Received]:
        """The messages accepted so far."""
        return self.handler.received


def _authenticator(handler: Handler, user: str, password: str) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        if ok:
            handler.logins.append((user, password))
        return AuthResult(success=ok, handled=False)

    return check


@contextmanager
def smtp_server(
    handler: Handler | None = None,
    *,
    tls_context: ssl.SSLContext | None = None,
    starttls: bool = False,
    auth: tuple[str, str] | None = None,
    port: int | None = None,
    size_limit: int | None = None,
) -> Iterator[Server]:
    """Run aiosmtpd on a loopback port (a free one unless given): plain, STARTTLS, or TLS from
    the first byte; with `size_limit`, it announces and enforces that SIZE (bytes)."""
    handler = handler or Handler()
    port = port or free_port()
    options: dict[str, Any] = {}
    if size_limit is not None:
        options["data_size_limit"] = size_limit
    if auth:
        options.update(
            authenticator=_authenticator(handler, *auth),
            auth_require_tls=tls_context is not None,
            auth_required=True,
        )
    if starttls:
        options.update(tls_context=tls_context, require_starttls=True)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ssl_context=None if starttls else tls_context,
        **options,
    )
    controller.start()
    try:
        yield Server("127.0.0.1", port, handler)
    finally:
        controller.stop()


@contextmanager
def _listening(
    answer: Callable[[socket.socket, threading.Event], None],
) -> Iterator[tuple[int, list[socket.socket], threading.Event]]:
    """A loopback listener handing each connection to `answer(connection, stop)` in a thread
    of its own: its port, the connections so far, and a flag set once one came. Every
    connection is closed at the end."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop, connected = threading.Event(), threading.Event()
    connections: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            connections.append(conn)
            connected.set()
            threading.Thread(target=answer, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], connections, connected
    finally:
        stop.set()
        thread.join()
        for conn in connections:
            conn.close()
        listener.close()


@contextmanager
def raw_server(script: bytes | None) -> Iterator[int]:
    """A listening socket that answers every connection with `script` and hangs up, or (None)
    accepts and never says a word, like a mail server that hangs."""

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        if script is not None:
            with conn:
                conn.sendall(script)

    with _listening(answer) as (port, _, _):
        yield port


@dataclass
class Tarpit(Listening):
    """A mail server that takes connections and trickles a few bytes to each, one a second,
    then says nothing more: a tarpit, or a server whose disk is failing."""

    connected: threading.Event  # set once a client is connected
    connections: list[socket.socket]


@contextmanager
def tarpit(
    data: bytes = b"220-mail.test is slow today\r\n",
    every: float = 1.0,
    tls: ssl.SSLContext | None = None,
) -> Iterator[Tarpit]:
    """A Tarpit on a loopback port, sending a byte of `data` every `every` seconds (inside
    TLS from the first byte, with `tls`); b"" accepts and stays silent."""

    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        if tls is not None:
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except OSError:
                return
        with conn:  # silent after the data, until the end
            for i in range(len(data)):
                if stop.wait(every if i else 0):
                    return
                try:
                    conn.sendall(data[i : i + 1])
                except OSError:  # the client gave up
                    return
            stop.wait()

    with _listening(trickle) as (port, connections, connected):
        yield Tarpit("127.0.0.1", port, connected, connections)


def held(eml: bytes | None, token: str) -> int:
    """How many times a message holds `token` once decoded, in its headers and in each of
    its parts, whatever their transfer encoding made of it: read back from the message, what
    digest.envelope.fits expects to find (counted there on the parts as composed)."""
    if eml is None:
        return 0
    from email import policy
    from email.parser import BytesParser

    count = 0
    for part in BytesParser(policy=policy.compat32).parsebytes(eml).walk():
        count += sum(str(value).count(token) for value in part.values())
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            count += payload.count(token.encode()) if isinstance(payload, bytes) else 0
    return count
