"""The smtp channel: the stored mail message, sent byte for byte over SMTP."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading

from digest.channels import EVERYTHING, Channel
from digest.errors import ConfigError, DeliveryError, DeliveryStopped, TransientDeliveryError
from digest.models import Outgoing

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    import smtplib
    import socket
    import ssl
    from collections.abc import Callable, Iterator, Sequence

    from digest.settings import Settings

log = logging.getLogger(__name__)

# What the deliverer reads of the settings (with DIGEST_TO, through the stored message).
SETTINGS = ("smtp_host", "smtp_port", "smtp_security", "smtp_user", "smtp_password", "smtp_timeout")
# The message's settings, which it checks too (the files channel writes the message as well).
MESSAGE = ("from_", "to", "subject", "unsubscribe", "list_id")
SECURITIES = ("starttls", "ssl", "none")  # DIGEST_SMTP_SECURITY
SUBJECT_FIELDS = ("count", "date", "matches")
LOOPBACK = ("localhost", "127.0.0.1", "::1")
MAX_WIDTH = 200  # of a field in DIGEST_SUBJECT: {count:>5} is fine, a million spaces is not


def envelope(eml: bytes) -> tuple[str, list[str]]:
    """The sender and recipients of a stored message, read from its From, To and Cc headers:
    what was stored is what is sent, even if DIGEST_TO changed since."""
    from email import policy
    from email.parser import BytesHeaderParser
    from email.utils import getaddresses

    # The header block alone, its addresses read as written (their names left encoded): a
    # message is sent as stored, so only the addresses matter, and reading every header
    # into objects cost more than the rest of sending it.
    head = eml.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head)

    def found(*names: str) -> list[str]:
        values = [str(v) for name in names for v in headers.get_all(name, [])]
        return [address for _, address in getaddresses(values) if address]

    senders, recipients = found("From"), found("To", "Cc")
    if not senders:
        raise DeliveryError("the stored message has no sender (From)")
    return senders[0], recipients


def _reply(e: smtplib.SMTPResponseException) -> str:
    return _reason(e.smtp_code, e.smtp_error)


def _reason(code: int, message: bytes | str) -> str:
    """A server's reply on one line: '550 5.1.1 No such user'."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


class Deadline:
    """Ends an exchange with the mail server that runs past its time, or at once when
    delivery is stopped, by shutting its connection down: whatever connect, read or write
    waits on it returns at once, however slowly the server trickles its bytes (a timeout
    on each read would wait again for every byte).

    It holds a duplicate of the connection's socket, made before it connects, so that it
    can cut it whatever wraps the socket since (TLS), from any thread or a signal handler."""

    def __init__(self) -> None:
        # Reentrant: `stop` may run in a signal handler of the thread that holds it.
        self._lock = threading.RLock()
        self._socket: socket.socket | None = None
        self._round = 0  # which exchange a timer is for: a late one cuts nothing
        self.cut: str | None = None  # "deadline" or "stopped" once the exchange was cut
        self.stopped = False

    def watch(self, sock: socket.socket) -> None:
        """Cut this connection (a socket about to connect) when the time comes."""
        with self._lock:
            self.forget()
            self._socket = sock.dup()
            if self.cut is not None:
                self._shut()

    def forget(self) -> None:
        """The watched connection is closed: let go of it."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    @contextlib.contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Cut the watched connection if what is inside takes longer than `seconds`."""
        with self._lock:
            self._round += 1
            self.cut = "stopped" if self.stopped else None
            timer = threading.Timer(seconds, self._expire, (self._round,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with self._lock:
                self._round += 1  # a timer that fired meanwhile finds it over: it cuts nothing

    def stop(self) -> None:
        """Cut the exchange in progress, and every one after."""
        with self._lock:
            self.stopped = True
            self.cut = "stopped"
            self._shut()

    def _expire(self, round_: int) -> None:
        with self._lock:
            if round_ == self._round and self.cut is None:
                self.cut = "deadline"
                self._shut()

    def _shut(self) -> None:
        import socket

        if self._socket is not None:
            with contextlib.suppress(OSError):  # not connected yet, or gone already
                self._socket.shutdown(socket.SHUT_RDWR)


class SmtpDeliverer:
    """Sends the stored message over SMTP, byte for byte, to the addresses in its headers.

    Each message has `timeout` seconds for its whole exchange with the server: connecting,
    the greeting, TLS, the login and the message, however slowly the server answers.
    Failures worth retrying raise TransientDeliveryError: no connection, a timeout, a 4xx
    reply, and also a refused login or TLS problem, which are fixed in the settings, after
    which the digest goes out by itself. A 5xx refusal of the message raises DeliveryError.
    Recipients refused one by one while others accepted the message are reported and
    logged; the digest counts as delivered, and `digest resend ID --to ADDRESS` sends it to
    them once fixed. `stop()` ends an exchange in progress at once (DeliveryStopped).
    """

    # The message, and every format too: `digest resend ID --deliver files` of a mailed
    # digest writes the whole digest, whatever the mail had room for.
    needs = EVERYTHING

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        user: str = "",
        password: str = "",
        timeout: float = 30,
        ssl_context: ssl.SSLContext | None = None,
        recipients: Sequence[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self._password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.recipients = list(recipients)
        # Inside `session()`: the connection of the last message, kept for the next one if
        # it comes soon (a run with many readers), with when it was last used.
        self._keeping = False
        self._kept: tuple[smtplib.SMTP, float] | None = None
        self._deadline = Deadline()
        # One exchange at a time: the service's threads may share this deliverer, and its
        # kept connection and deadline are for one message at a time.
        self._busy = threading.Lock()

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Messages delivered inside share one connection while they follow each other."""
        self._keeping = True
        try:
            yield
        finally:
            self._keeping = False
            with self._busy:
                if self._kept is not None:
                    smtp, self._kept = self._kept[0], None
                    self._quit(smtp)

    def stop(self) -> bool:
        """Stop delivering: the exchange in progress ends at once, and no other begins; each
        raises DeliveryStopped. Safe from another thread or a signal handler. True: done."""
        self._deadline.stop()
        return True

    @classmethod
    def from_settings(cls, settings: Settings, **options: object) -> SmtpDeliverer:
        """The deliverer the DIGEST_SMTP_* settings describe."""
        return cls(
            settings.smtp_host,
            settings.port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
            **options,  # type: ignore[arg-type]
        )

    def __repr__(self) -> str:
        return f"SmtpDeliverer({self.host!r}, {self.port}, security={self.security!r})"

    def _connect(self) -> smtplib.SMTP:
        import ssl

        context = self.ssl_context or ssl.create_default_context()
        plain, tls = _clients()
        smtp: smtplib.SMTP
        try:  # connects, and reads the greeting
            if self.security == "ssl":
                smtp = tls(self.host, self.port, self._deadline, self.timeout, context)
            else:
                smtp = plain(self.host, self.port, self._deadline, self.timeout)
        except BaseException:
            self._deadline.forget()
            raise
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.user:
                _login(smtp, self.user, self._password)
        except BaseException:
            self._close(smtp)
            raise
        return smtp

    def _quit(self, smtp: smtplib.SMTP) -> None:
        """Say goodbye (within the time of an exchange), then close the connection."""
        with self._deadline.within(self.timeout):
            _quit(smtp)
        self._close(smtp)

    def _close(self, smtp: smtplib.SMTP) -> None:
        smtp.close()
        self._deadline.forget()

    def deliver(self, outgoing: Outgoing) -> str:
        import smtplib

        if not outgoing.eml:
            raise DeliveryError(
                f"digest {outgoing.id} has no stored mail message (made before mail delivery"
                " existed); deliver it with --deliver files"
            )
        sender, recipients = envelope(outgoing.eml)
        recipients = self.recipients or recipients
        if not recipients:
            raise DeliveryError(
                f"digest {outgoing.id} was made without DIGEST_TO, so its message has no"
                f" recipient; send it with `digest resend {outgoing.id} --to ADDRESS`"
            )
        server = f"{self.host}:{self.port}"
        if self._deadline.stopped:
            raise DeliveryStopped(f"delivery was stopped before {server} was tried")
        try:
            with self._busy, self._deadline.within(self.timeout):
                refused = self._send(outgoing, sender, recipients, server)
        except (OSError, smtplib.SMTPException, ValueError) as e:
            error = failure(e, server, user=self.user, timeout=self.timeout)
            if self._deadline.cut == "stopped":
                error = DeliveryStopped(f"delivery was stopped before {server} took the message")
            elif self._deadline.cut == "deadline":
                error = TransientDeliveryError(_timed_out(server, self.timeout))
            if not any(address in str(error) for address in recipients):
                # The operator's log says whose message it was (never a reader's own output).
                error = type(error)(f"{error} (to {', '.join(recipients)})")
            raise error from None

        accepted = len(recipients) - len(refused)
        description = f"mailed to {_plural(accepted, 'recipient')} via {server}"
        if refused:
            for address, (code, message) in refused.items():
                log.warning(
                    "digest %s: %s refused recipient %s (%s)",
                    outgoing.id,
                    server,
                    address,
                    _reason(code, message),
                )
            description += f"; refused: {_refusals(refused)}"
        return description

    def _send(
        self, outgoing: Outgoing, sender: str, recipients: list[str], server: str
    ) -> dict[str, tuple[int, bytes]]:
        """One message over the connection kept from the message before, if it is recent
        and the server still holds it, else over a new one; kept afterwards for the next."""
        import smtplib
        import time

        kept, self._kept = self._kept, None
        if kept is not None:
            smtp, used = kept
            if time.monotonic() - used < KEEP_SECONDS:
                try:
                    refused = smtp.sendmail(
                        sender, recipients, _within_size(smtp, outgoing, server)
                    )
                except smtplib.SMTPServerDisconnected:
                    self._close(smtp)  # it let go meanwhile: once more, on a new connection
                    if self._deadline.cut is not None:
                        raise
                except BaseException:
                    self._close(smtp)
                    raise
                else:
                    if self._keeping:
                        self._kept = (smtp, time.monotonic())
                    else:
                        self._close_after(smtp)
                    return refused
            else:
                self._close_after(smtp)
        smtp = self._connect()
        try:
            data = _within_size(smtp, outgoing, server)
            refused = smtp.sendmail(sender, recipients, data)
        except BaseException:
            self._close(smtp)
            raise
        if self._keeping:
            self._kept = (smtp, time.monotonic())  # the message is accepted
        else:
            self._close_after(smtp)  # the message is accepted: a failing QUIT changes nothing
        return refused

    def _close_after(self, smtp: smtplib.SMTP) -> None:
        """QUIT and close, within the exchange's own time (it is inside `deliver`'s)."""
        _quit(smtp)
        self._close(smtp)


KEEP_SECONDS = 5.0  # a connection idle this long is closed rather than used again


@functools.cache
def _clients() -> tuple[Callable[..., smtplib.SMTP], Callable[..., smtplib.SMTP]]:
    """smtplib's clients, their connection watched by a Deadline from before it connects
    (smtplib would connect and read the greeting before anything could watch it)."""
    import smtplib
    import socket

    class Plain(smtplib.SMTP):
        def __init__(self, host: str, port: int, deadline: Deadline, timeout: float) -> None:
            self.deadline = deadline
            super().__init__(host, port, timeout=timeout)

        def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
            error: OSError | None = None
            for family, kind, proto, _, address in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            ):
                sock = socket.socket(family, kind, proto)
                self.deadline.watch(sock)
                try:
                    sock.settimeout(timeout)
                    sock.connect(address)
                    return sock
                except OSError as e:
                    sock.close()
                    error = e
            raise error or OSError(f"{host} has no address")

    class Tls(smtplib.SMTP_SSL, Plain):  # SMTP_SSL wraps what Plain connects
        def __init__(
            self,
            host: str,
            port: int,
            deadline: Deadline,
            timeout: float,
            context: ssl.SSLContext,
        ) -> None:
            self.deadline = deadline
            smtplib.SMTP_SSL.__init__(self, host, port, timeout=timeout, context=context)

    return Plain, Tls


def _timed_out(server: str, timeout: float) -> str:
    return f"{server} did not answer within {timeout:g} s (DIGEST_SMTP_TIMEOUT)"


def failure(error: Exception, server: str, *, user: str, timeout: float) -> DeliveryError:
    """What a failed exchange with the mail server means, as the error to raise: a
    DeliveryError gives the digest up, a TransientDeliveryError keeps it for a retry. The
    cases are tried in order, the more particular first."""
    import smtplib
    import ssl

    timed_out = _timed_out(server, timeout)
    settings = "check DIGEST_SMTP_SECURITY and DIGEST_SMTP_PORT"
    match error:
        case smtplib.SMTPRecipientsRefused(recipients=refused):
            final = all(code >= 500 for code, _ in refused.values())
            why = f"{server} refused every recipient: {_refusals(refused)}"
            return DeliveryError(why) if final else TransientDeliveryError(why)
        case smtplib.SMTPAuthenticationError():
            return TransientDeliveryError(
                f"{server} refused the login of {user!r} ({_reply(error)}); check"
                " DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD"
            )
        case smtplib.SMTPResponseException(smtp_code=code) if code >= 500:
            return DeliveryError(f"{server} refused the message: {_reply(error)}")
        case smtplib.SMTPResponseException():
            return TransientDeliveryError(
                f"{server} is not taking the message for now: {_reply(error)}"
            )
        case smtplib.SMTPNotSupportedError():
            return TransientDeliveryError(f"{server}: {error}; {settings}")
        case smtplib.SMTPServerDisconnected() if "timed out" in str(error):
            return TransientDeliveryError(timed_out)  # smtplib's way to say a read timed out
        case smtplib.SMTPServerDisconnected():
            return TransientDeliveryError(
                f"{server} closed the connection before accepting the message"
            )
        case ssl.SSLCertVerificationError():
            return TransientDeliveryError(
                f"the TLS certificate of {server} cannot be trusted: {error.verify_message}"
            )
        case ssl.SSLError():
            return TransientDeliveryError(
                f"TLS with {server} failed ({getattr(error, 'reason', None) or error}); {settings}"
            )
        case TimeoutError():
            return TransientDeliveryError(timed_out)
        case OSError() | smtplib.SMTPException():
            why = getattr(error, "strerror", None) or str(error) or type(error).__name__
            return TransientDeliveryError(f"cannot reach the mail server {server}: {why}")
        case _:  # UnicodeError, ValueError: its text may quote a setting, so it is not shown
            return TransientDeliveryError(
                f"cannot talk to {server} with these settings ({type(error).__name__});"
                " check DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD"
            )


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in. smtplib sends the login as ASCII only; SASL PLAIN and LOGIN carry UTF-8
    (RFC 4616, RFC 4954), so a non-ASCII name or password goes that way, as UTF-8."""
    import base64
    import smtplib

    if (user + password).isascii():
        smtp.login(user, password)
        return

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("the server offers no login (SMTP AUTH)")
    offered = smtp.esmtp_features["auth"].upper().split()
    if "PLAIN" in offered:
        login = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
        code, reply = smtp.docmd("AUTH", "PLAIN " + b64(login))
    elif "LOGIN" in offered:
        code, reply = smtp.docmd("AUTH", "LOGIN " + b64(user.encode("utf-8")))
        if code == 334:
            code, reply = smtp.docmd(b64(password.encode("utf-8")))
    else:
        raise smtplib.SMTPNotSupportedError(
            "the server offers no login method for a non-ASCII name or password (PLAIN, LOGIN)"
        )
    if code not in (235, 503):  # 503: already logged in
        raise smtplib.SMTPAuthenticationError(code, reply)


def _within_size(smtp: smtplib.SMTP, outgoing: Outgoing, server: str) -> bytes:
    """The stored message, made to fit the size the server announces (EHLO SIZE) by leaving
    out its attachment if need be; DeliveryError when it cannot fit at all."""
    from digest.render.mail import without_attachment

    assert outgoing.eml is not None
    smtp.ehlo_or_helo_if_needed()
    announced = smtp.esmtp_features.get("size", "")
    if not announced.isdigit() or int(announced) == 0:  # 0 or nothing: no limit announced
        return outgoing.eml
    # Room for the transfer's own bytes: dot-stuffing and the final CRLF.CRLF.
    spare = 1024 + outgoing.eml.count(b"\n.")
    fitted = without_attachment(outgoing.eml, int(announced), outgoing.id, spare)
    if fitted is None:
        raise DeliveryError(
            f"digest {outgoing.id} is too big for {server}, which takes mail of at most"
            f" {int(announced) // 1024:,} KB; get it with `digest resend {outgoing.id} --deliver"
            " files`, and set a lower DIGEST_MAX_PAPERS (or another mail server) for the next ones"
        )
    if fitted is not outgoing.eml:
        log.warning(
            "digest %s: mailed without its attachment, over the %s KB %s accepts",
            outgoing.id,
            f"{int(announced) // 1024:,}",
            server,
        )
    return fitted


def _quit(smtp: smtplib.SMTP) -> None:
    import smtplib

    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({_reason(*reply)})" for address, reply in refused.items())


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _build(settings: Settings, recipients: Sequence[str] = ()) -> SmtpDeliverer:
    return SmtpDeliverer.from_settings(settings, recipients=recipients)


def _describe(settings: Settings) -> str:
    return "smtp"


def check(s: Settings) -> None:
    """The mail settings, its server's and its message's (the files channel writes the
    message too); raises ConfigError naming the setting."""
    import re
    import string

    from digest.models import subject_line
    from digest.settings import addresses

    if s.smtp_security not in SECURITIES:
        raise ConfigError(
            f"DIGEST_SMTP_SECURITY={s.smtp_security!r} is not one of {', '.join(SECURITIES)}"
        )
    for name, value in (("DIGEST_SMTP_HOST", s.smtp_host), ("DIGEST_SMTP_USER", s.smtp_user)):
        if any(ch.isspace() for ch in value):
            raise ConfigError(f"{name}={value!r} must not contain spaces")
    if len(addresses(s.from_, "DIGEST_FROM")) > 1:
        raise ConfigError("DIGEST_FROM must be a single address")
    s.recipients  # noqa: B018 -- validates DIGEST_TO
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(s.subject) if f is not None]
    except ValueError as e:
        raise ConfigError(f"DIGEST_SUBJECT={s.subject!r} is not a valid template: {e}") from None
    specs = [spec for _, f, spec, _ in string.Formatter().parse(s.subject) if f is not None]
    if any(
        len(n) > 4 or int(n) > MAX_WIDTH for spec in specs for n in re.findall(r"\d+", spec or "")
    ):
        raise ConfigError(
            f"DIGEST_SUBJECT={s.subject!r}: a width or precision must be at most {MAX_WIDTH}"
        )
    unknown = [f for f in fields if f not in SUBJECT_FIELDS]
    if unknown:
        raise ConfigError(
            f"DIGEST_SUBJECT={s.subject!r} uses {{{unknown[0]}}}; only {{count}}, {{date}}"
            " and {matches} can be used"
        )
    try:  # a format spec that does not fit its value ({date:d}) fails only when used
        subject_line(s.subject, 0, "Mar 12")
    except (ValueError, TypeError, IndexError) as e:
        raise ConfigError(f"DIGEST_SUBJECT={s.subject!r} is not a valid template: {e}") from None
    if s.unsubscribe and not s.unsubscribe.startswith(("mailto:", "https://")):
        if not _local_http(s.unsubscribe):
            raise ConfigError(
                f"DIGEST_UNSUBSCRIBE={s.unsubscribe!r} must be a mailto: address or an https://"
                " URL (plain http:// only to this machine, for a test)"
            )
        log.warning(
            "DIGEST_UNSUBSCRIBE is plain http:// to this machine: for a test only; readers"
            " elsewhere need the https:// address where digest web is published"
        )
    if any(ch in s.unsubscribe for ch in "<>\r\n \t"):
        raise ConfigError("DIGEST_UNSUBSCRIBE must be a single address or URL, without <>")
    if s.list_id and not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+", s.list_id):
        raise ConfigError(
            f"DIGEST_LIST_ID={s.list_id!r} is not a list identifier like papers.example.org"
        )
    if s.deliver == "smtp":
        missing = [
            name
            for name, value in (
                ("DIGEST_SMTP_HOST", s.smtp_host),
                ("DIGEST_FROM", s.from_),
                ("DIGEST_TO", s.to if s.readers is None else "readers"),  # or the readers'
            )
            if not value.strip()
        ]
        if missing:
            raise ConfigError(
                f"mail delivery needs {' and '.join(missing)}; set them or"
                " choose another DIGEST_DELIVER"
            )
        if not s.recipients and s.readers is None:
            raise ConfigError("DIGEST_TO holds no address")
    if s.smtp_password and s.smtp_security == "none" and s.smtp_host not in LOOPBACK:
        raise ConfigError(
            "DIGEST_SMTP_SECURITY=none would send the SMTP password unencrypted to"
            f" {s.smtp_host}; use starttls or ssl"
        )


CHANNEL = Channel("smtp", (*SETTINGS, *MESSAGE), _build, _describe, check=check)


def _local_http(url: str) -> bool:
    """Whether `url` is plain http:// to this machine (a local test of `digest web`)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme == "http" and host in LOOPBACK
