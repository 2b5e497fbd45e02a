"""Deliverers: where a rendered digest goes. Each takes an Outgoing and returns a short
description of what it did, or raises DeliveryError."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from digest.errors import DeliveryError, TransientDeliveryError
from digest.models import Outgoing

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    import smtplib
    import ssl
    from collections.abc import Sequence
    from typing import Protocol, TextIO

    from digest.config import Settings

    class Deliverer(Protocol):
        """Something that delivers a rendered digest."""

        def deliver(self, outgoing: Outgoing) -> str:
            """Deliver it; return a one-line description; raise DeliveryError on failure."""
            ...


log = logging.getLogger(__name__)

EXTENSIONS = {"html": "html", "text": "txt", "markdown": "md", "json": "json"}


def write_atomically(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write a file so that readers see the old content or the whole new one, never a part:
    a temporary file beside it, flushed to disk, then renamed over it. Without `replace`, it
    is linked into place instead, which fails with FileExistsError rather than overwrite."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _link(tmp: str, path: Path) -> None:
    """Put `tmp` in place at `path` unless something is there already (FileExistsError)."""
    try:
        os.link(tmp, path)  # atomic, and never over an existing file
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: look, then rename
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def file_stem(outgoing: Outgoing, taken: int = 0) -> str:
    """Output files are named by the digest's date and number, digest-2025-03-12-0017: two
    digests made in the same second stay apart. When that name holds another digest's files
    (the state file was reset, say), the next free one: digest-2025-03-12-0017-2."""
    suffix = f"-{taken + 1}" if taken else ""
    return f"digest-{outgoing.created:%Y-%m-%d}-{outgoing.id:04d}{suffix}"


def _holds_other(path: Path, data: bytes) -> bool:
    """Whether `path` holds something other than `data` (an earlier digest's file)."""
    try:
        return path.stat().st_size != len(data) or path.read_bytes() != data
    except FileNotFoundError:
        return False


class FilesDeliverer:
    """Writes the digest as HTML, text, Markdown and JSON files into a folder, and the complete
    mail message as an .eml file: exactly what would have been mailed."""

    def __init__(self, out: Path | None) -> None:
        self._out = out

    @property
    def out(self) -> Path:
        """The folder: as given, else the user data folder's digests/ (looked up only when
        something is written, so a run with nothing new does not pay for it)."""
        from digest.config import default_out

        return self._out or default_out()

    def deliver(self, outgoing: Outgoing) -> str:
        files = [(ext, getattr(outgoing, fmt).encode("utf-8")) for fmt, ext in EXTENSIONS.items()]
        if outgoing.eml:
            files.append(("eml", outgoing.eml))
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            paths = self._write_new(outgoing, files)
        except OSError as e:  # a full disk or a permission can be fixed: try again next run
            raise TransientDeliveryError(
                f"cannot write the digest to {self.out}: {e.strerror}"
            ) from None
        return "wrote " + ", ".join(str(p) for p in paths)

    def _write_new(self, outgoing: Outgoing, files: list[tuple[str, bytes]]) -> list[Path]:
        """Write the files under the first name whose files are absent or the same bytes (a
        retry of this very digest): an earlier digest's files are never overwritten."""
        taken = 0
        while True:
            paths = [(self.out / f"{file_stem(outgoing, taken)}.{ext}", d) for ext, d in files]
            if not any(_holds_other(path, data) for path, data in paths):
                try:
                    for path, data in paths:
                        if not path.exists():
                            write_atomically(path, data, replace=False)
                    return [path for path, _ in paths]
                except FileExistsError:
                    pass  # written by someone else meanwhile: look again
            taken += 1


class StdoutDeliverer:
    """Prints one format of the digest (UTF-8). It counts as delivered only once every byte
    was written: a reader that stops early (`| head -c 10`), a closed pipe or a closed
    standard output leave it pending."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream

    def deliver(self, outgoing: Outgoing) -> str:
        write_all(self.stream or sys.stdout, getattr(outgoing, self.fmt).encode("utf-8"))
        return "printed to standard output"


def write_all(stream: TextIO | None, data: bytes) -> None:
    """Write every byte of `data` to the file under `stream`, or raise TransientDeliveryError.

    Straight to its file descriptor, in a loop: a buffered or unbuffered text stream may
    drop what a short write left over without a word."""
    if stream is None or stream.closed:  # started with `>&-`: Python sets sys.stdout to None
        raise TransientDeliveryError("cannot write the digest: standard output is closed")
    view = memoryview(data)
    try:
        stream.flush()  # what was printed before comes first
        try:
            fd = stream.fileno()
        except (OSError, ValueError):  # a stream in memory, which takes all it is given
            stream.write(data.decode("utf-8"))
            stream.flush()
            return
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as e:  # a closed pipe or a full disk: the digest stays pending
        raise TransientDeliveryError(
            f"cannot write the digest to standard output: {e.strerror or e}"
            f" ({len(data) - len(view):,} of {len(data):,} bytes written)"
        ) from None


class PreviewDeliverer:
    """Writes one format of the digest to a preview file, for a dry run; records nothing.

    With `mailed`, the HTML and text previews are the parts of the mail message, exactly as
    a reader's mail client gets them; otherwise the digest files as written."""

    def __init__(self, out: Path, fmt: str, *, mailed: bool = False) -> None:
        self.out = out
        self.fmt = fmt
        self.mailed = mailed

    def deliver(self, outgoing: Outgoing) -> str:
        path = self.out / f"preview.{EXTENSIONS[self.fmt]}"
        content = getattr(outgoing, self.fmt)
        if self.mailed and outgoing.eml and self.fmt in ("html", "text"):
            content = mail_part(outgoing.eml, "html" if self.fmt == "html" else "plain")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            write_atomically(path, content.encode("utf-8"))
        except OSError as e:
            raise DeliveryError(f"cannot write the preview to {path}: {e.strerror}") from None
        print(path)
        return f"wrote preview {path}"


def mail_part(eml: bytes, subtype: str) -> str:
    """The text/html or text/plain body of a stored message, decoded."""
    from email import policy
    from email.message import EmailMessage
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(eml)
    assert isinstance(message, EmailMessage)
    body = message.get_body((subtype,))
    return str(body.get_content()) if body is not None else ""


def envelope(eml: bytes) -> tuple[str, list[str]]:
    """The sender and recipients of a stored message, read from its From, To and Cc headers:
    what was stored is what is sent, even if DIGEST_TO changed since."""
    from email import policy
    from email.parser import BytesParser

    headers = BytesParser(policy=policy.default).parsebytes(eml, headersonly=True)
    senders = [a.addr_spec for a in getattr(headers["From"], "addresses", ())]
    recipients = [
        a.addr_spec for name in ("To", "Cc") for a in getattr(headers[name], "addresses", ())
    ]
    if not senders:
        raise DeliveryError("the stored message has no sender (From)")
    return senders[0], recipients


def _reply(e: smtplib.SMTPResponseException) -> str:
    return _reason(e.smtp_code, e.smtp_error)


def _reason(code: int, message: bytes | str) -> str:
    """A server's reply on one line: '550 5.1.1 No such user'."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


class SmtpDeliverer:
    """Sends the stored message over SMTP, byte for byte, to the addresses in its headers.

    Failures worth retrying raise TransientDeliveryError: no connection, a timeout, a 4xx
    reply, and also a refused login or TLS problem, which are fixed in the settings, after
    which the digest goes out by itself. A 5xx refusal of the message raises DeliveryError.
    Recipients refused one by one while others accepted the message are reported and
    logged; the digest counts as delivered, and `digest resend ID --to ADDRESS` sends it to
    them once fixed.
    """

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

    def _timed_out(self, server: str) -> str:
        return f"{server} did not answer within {self.timeout:g} s (DIGEST_SMTP_TIMEOUT)"

    def _connect(self) -> smtplib.SMTP:
        import smtplib
        import ssl

        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.user:
                _login(smtp, self.user, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def deliver(self, outgoing: Outgoing) -> str:
        import smtplib
        import ssl

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
        try:
            smtp = self._connect()
            try:
                data = _within_size(smtp, outgoing, server)
                refused = smtp.sendmail(sender, recipients, data)
            finally:
                _quit(smtp)  # the message is accepted: a failing QUIT changes nothing
        except smtplib.SMTPRecipientsRefused as e:
            reasons = _refusals(e.recipients)
            if all(code >= 500 for code, _ in e.recipients.values()):
                raise DeliveryError(f"{server} refused every recipient: {reasons}") from None
            raise TransientDeliveryError(f"{server} refused every recipient: {reasons}") from None
        except smtplib.SMTPAuthenticationError as e:
            raise TransientDeliveryError(
                f"{server} refused the login of {self.user!r} ({_reply(e)}); check"
                " DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD"
            ) from None
        except smtplib.SMTPResponseException as e:
            if e.smtp_code >= 500:
                raise DeliveryError(f"{server} refused the message: {_reply(e)}") from None
            raise TransientDeliveryError(
                f"{server} is not taking the message for now: {_reply(e)}"
            ) from None
        except smtplib.SMTPNotSupportedError as e:
            raise TransientDeliveryError(
                f"{server}: {e}; check DIGEST_SMTP_SECURITY and DIGEST_SMTP_PORT"
            ) from None
        except smtplib.SMTPServerDisconnected as e:
            if "timed out" in str(e):  # smtplib turns a read timeout into a disconnection
                raise TransientDeliveryError(self._timed_out(server)) from None
            raise TransientDeliveryError(
                f"{server} closed the connection before accepting the message"
            ) from None
        except ssl.SSLCertVerificationError as e:
            raise TransientDeliveryError(
                f"the TLS certificate of {server} cannot be trusted: {e.verify_message}"
            ) from None
        except ssl.SSLError as e:
            raise TransientDeliveryError(
                f"TLS with {server} failed ({e.reason or e}); check DIGEST_SMTP_SECURITY"
                " and DIGEST_SMTP_PORT"
            ) from None
        except TimeoutError:
            raise TransientDeliveryError(self._timed_out(server)) from None
        except (OSError, smtplib.SMTPException) as e:
            why = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise TransientDeliveryError(f"cannot reach the mail server {server}: {why}") from None
        except (UnicodeError, ValueError) as e:  # its text may quote a setting: not shown
            raise TransientDeliveryError(
                f"cannot talk to {server} with these settings ({type(e).__name__});"
                " check DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD"
            ) from None

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
    from digest.mail import without_attachment

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
