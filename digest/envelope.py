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

from digest.models import Outgoing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from email.headerregistry import Address

TOKEN_LENGTH = 32  # hex characters: 128 bits
ID_LENGTH = 40  # hex characters of a Message-ID's left part


def token(secret: bytes, key: str) -> str:
    """The reader's unsubscribe token: unguessable without the state's secret."""
    digest = hmac.new(secret, f"reader:{key}".encode(), "sha256").hexdigest()
    return digest[:TOKEN_LENGTH]


def verify(secret: bytes, key: str, given: str) -> bool:
    """Whether `given` is this reader's token (compared in constant time)."""
    return hmac.compare_digest(token(secret, key), given.strip().lower())


def message_id(domain: str) -> str:
    """A new Message-ID, always of the same length for a domain."""
    return f"<{secrets.token_hex(ID_LENGTH // 2)}@{domain}>"


@dataclass(frozen=True, slots=True)
class Marks:
    """The stand-ins of one rendering: for the token and the Message-ID's left part."""

    token: str
    ident: str

    @classmethod
    def new(cls) -> Marks:
        return cls(secrets.token_hex(TOKEN_LENGTH // 2), secrets.token_hex(ID_LENGTH // 2))

    def unsubscribe(self, template: str) -> str:
        """DIGEST_UNSUBSCRIBE with the token's stand-in for {token}."""
        return template.replace("{token}", self.token)

    def message_id(self, domain: str) -> str:
        return f"<{self.ident}@{domain}>"


def fits(item: Outgoing, marks: Marks, expected: int) -> bool:
    """Whether every stand-in of the token survived the mail's encoding whole: the message
    holds as many as the parts that went into it (`expected`)."""
    return item.eml is None or item.eml.count(marks.token.encode()) == expected


def addressed(
    item: Outgoing, marks: Marks, *, to: tuple[Address, ...], ident: str, token: str
) -> Outgoing:
    """The rendered digest `item` (made with `marks`, and no To header) as one reader's: their
    To header first, their Message-ID and token in place of the stand-ins."""
    assert len(ident) == len(marks.ident) and len(token) == len(marks.token)
    eml = item.eml
    if eml is not None:
        eml = eml.replace(marks.token.encode(), token.encode()).replace(
            marks.ident.encode(), ident.encode()
        )
        if to:
            eml = to_header(to) + eml
    return dataclasses.replace(
        item,
        message_id=item.message_id.replace(marks.ident, ident),
        html=item.html.replace(marks.token, token),
        text=item.text.replace(marks.token, token),
        markdown=item.markdown.replace(marks.token, token),
        json=item.json.replace(marks.token, token),
        eml=eml,
    )


def to_header(to: tuple[Address, ...]) -> bytes:
    """A To header as the mail policy writes it (encoded, folded, CRLF)."""
    from digest.render.mail import MAIL_POLICY

    header = MAIL_POLICY.header_factory("To", ", ".join(str(a) for a in to))
    return str(header.fold(policy=MAIL_POLICY)).encode("ascii")
