"""The preview channel of a dry run: one format of the digest into a preview file, nothing
recorded."""

from __future__ import annotations

import re
from pathlib import Path

from digest.channels import MAIL, Channel
from digest.channels.files import check_apart
from digest.disk import write_atomically
from digest.errors import DeliveryError
from digest.models import Outgoing
from digest.outputs import FORMATS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from digest.settings import Settings


PREVIEWS = "digest-preview"  # a dry run's folder, without DIGEST_OUT, when not delivering files


class PreviewDeliverer:
    """Writes one format of the digest to a preview file, for a dry run; records nothing.

    With `mailed`, the HTML and text previews are the parts of the mail message, exactly as
    a reader's mail client gets them; otherwise the digest files as written."""

    def __init__(self, out: Path, fmt: str, *, mailed: bool = False) -> None:
        self.out = out
        self.fmt = fmt
        self.mailed = mailed
        from_mail = mailed and fmt in ("html", "text")
        self.needs = frozenset({MAIL} if from_mail else {fmt})

    def deliver(self, outgoing: Outgoing) -> str:
        path = self.out / f"{preview_name(outgoing.reader_key)}.{FORMATS[self.fmt].extension}"
        content = outgoing.part(self.fmt)
        if self.mailed and outgoing.eml and self.fmt in ("html", "text"):
            content = mail_part(outgoing.eml, "html" if self.fmt == "html" else "plain")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            write_atomically(path, content.encode("utf-8"))
        except OSError as e:
            raise DeliveryError(f"cannot write the preview to {path}: {e.strerror}") from None
        print(path)
        return f"wrote preview {path}"


def preview_name(reader: str | None) -> str:
    """A preview's file name, without its extension: each reader of a readers file their
    own (`preview-ann@example.org`), so that no reader's preview overwrites another's."""
    if not reader:
        return "preview"
    return "preview-" + re.sub(r"[^A-Za-z0-9@._+-]", "_", reader)


def mail_part(eml: bytes, subtype: str) -> str:
    """The text/html or text/plain body of a stored message, decoded."""
    from email import policy
    from email.message import EmailMessage
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(eml)
    assert isinstance(message, EmailMessage)
    body = message.get_body((subtype,))
    return str(body.get_content()) if body is not None else ""


def _build(settings: Settings, recipients: Sequence[str] = ()) -> PreviewDeliverer:
    from digest.settings import default_out

    check_apart(settings)
    # Beside the digests' folder when they go there; else in the current folder, rather than
    # a folder of the user's data that a mailing installation never looks into.
    out = settings.out or (default_out() if settings.deliver == "files" else Path(PREVIEWS))
    return PreviewDeliverer(out, settings.format, mailed=settings.deliver == "smtp")


def _describe(settings: Settings) -> str:
    return "a preview file"


CHANNEL = Channel("preview", ("out", "format", "deliver"), _build, _describe)
