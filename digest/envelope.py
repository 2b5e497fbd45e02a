"""One rendered digest, addressed to each of its readers.

Readers with the same settings and the same new papers get the same digest: it is rendered
once, with stand-ins for what is each reader's own (the To header, the Message-ID, the
unsubscribe token), and each reader's message is those bytes with their own put in. A
stand-in has exactly the length of what replaces it and only characters that mail encodings
leave as they are, so the message stays valid; where an encoding split one (a long line
folded through it), that reader's message is built whole instead.

A reader's token is an HMAC of their key with the state's secret: unguessable, bound to one
reader, and checked without storing it.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from dataclasses import dataclass

from digest.models import Outgoing, Shared

TYPE_CHECKING = False
if TYPE_CHECKING:
    from email.headerregistry import Address

    from digest.models import Base

TOKEN_LENGTH = 32  # hex characters: 128 bits
ID_LENGTH = 40  # hex characters of a Message-ID's left part


def token(secret: bytes, key: str) -> str:
    """The reader's unsubscribe token: unguessable without the state's secret."""
    digest = hmac.new(secret, f"reader:{key}".encode(), "sha256").hexdigest()
    return digest[:TOKEN_LENGTH]


def verify(secret: bytes, key: str, given: str) -> bool:
    """Whether `given` is this reader's token (compared in constant time), in any case and
    with spaces around; anything else, whatever its characters, is not."""
    # As bytes: compare_digest refuses str that is not ASCII, and a token comes from outside.
    given = given.strip().lower()
    return hmac.compare_digest(token(secret, key).encode(), given.encode("utf-8", "replace"))


def ident() -> str:
    """A new Message-ID's left part, always of the same length (that of a stand-in's)."""
    return secrets.token_hex(ID_LENGTH // 2)


@dataclass(frozen=True, slots=True)
class Marks:
    """The stand-ins of one rendering: for the token and the Message-ID's left part."""

    token: str
    ident: str

    @classmethod
    def new(cls) -> Marks:
        return cls(secrets.token_hex(TOKEN_LENGTH // 2), ident())

    def unsubscribe(self, template: str) -> str:
        """DIGEST_UNSUBSCRIBE with the token's stand-in for {token}."""
        return template.replace("{token}", self.token)

    def message_id(self, domain: str) -> str:
        return f"<{self.ident}@{domain}>"


def fits(item: Outgoing, marks: Marks, expected: int) -> bool:
    """Whether every stand-in of the token survived the mail's encoding, whole or cut only by
    quoted-printable soft line breaks: the message holds as many as went into it (`expected`).
    Soft line breaks taken out, a stand-in (hex digits, which no encoding changes) is whole."""
    return item.eml is None or _whole(item.eml, marks.token) == expected


SOFT_BREAK = b"=\r\n"  # quoted-printable's soft line break: a long line goes on below


def _swap(eml: bytes, mark: str, new: str) -> bytes:
    """Every `mark` replaced by `new` (as long, in characters mail encodings leave as they
    are), a soft line break inside it kept where it was: every line keeps its length. The
    stand-ins are replaced in the message with its soft line breaks taken out, which is then
    cut where they were and joined by them again."""
    pieces = eml.split(SOFT_BREAK)
    flat = b"".join(pieces).replace(mark.encode(), new.encode())
    if len(pieces) == 1:
        return flat
    cut, at = [], 0
    for piece in pieces:
        cut.append(flat[at : at + len(piece)])
        at += len(piece)
    return SOFT_BREAK.join(cut)


def _whole(eml: bytes, mark: str) -> int:
    """How many stand-ins the message holds, whole or cut by soft line breaks."""
    return eml.replace(SOFT_BREAK, b"").count(mark.encode())


def addressed(
    item: Outgoing,
    marks: Marks,
    *,
    to: tuple[Address, ...],
    ident: str,
    token: str,
    base: Base | None = None,
) -> Outgoing:
    """The rendered digest `item` (made with `marks`, and no To header) as one reader's: their
    To header first, their Message-ID and token in place of the stand-ins. It says how it
    was made (`shared`), so that the outbox keeps the rendering once for all its readers."""
    assert len(ident) == len(marks.ident) and len(token) == len(marks.token)
    header = to_header(to) if to else b""
    shared = Shared(item, (marks.token, marks.ident), header, token, ident, base)
    return dataclasses.replace(message_of(shared), shared=shared)


def message_of(shared: Shared) -> Outgoing:
    """The reader's message that `shared` describes: the rendering with their To header
    first, their Message-ID and token in place of the stand-ins; the same bytes each time."""
    item, (token_mark, ident_mark) = shared.letter, shared.marks
    eml = item.eml
    if eml is not None:
        eml = _swap(eml, token_mark, shared.token)
        eml = shared.to + eml.replace(ident_mark.encode(), shared.ident.encode())
    return dataclasses.replace(
        item,
        message_id=item.message_id.replace(ident_mark, shared.ident),
        parts={fmt: made.replace(token_mark, shared.token) for fmt, made in item.parts.items()},
        eml=eml,
    )


def to_header(to: tuple[Address, ...]) -> bytes:
    """A To header as the mail policy writes it (encoded, folded, CRLF)."""
    from digest.render.mail import MAIL_POLICY

    header = MAIL_POLICY.header_factory("To", ", ".join(str(a) for a in to))
    return str(header.fold(policy=MAIL_POLICY)).encode("ascii")
