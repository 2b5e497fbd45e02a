"""One rendering addressed to each reader: the token (its exact form, checked whatever the
reader's spelling of it), the stand-ins (as long as what replaces them, each replaced where
it is, wherever quoted-printable cut it), and a stand-in split by an encoding detected."""

from __future__ import annotations

import email
import hashlib
import hmac
import re
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address

import pytest

from digest import envelope
from digest.envelope import (
    ID_LENGTH,
    SOFT_BREAK,
    TOKEN_LENGTH,
    Marks,
    addressed,
    fits,
    message_of,
    to_header,
    token,
    verify,
)
from digest.models import Outgoing
from digest.render.mail import MailOptions, message
from tests.mailserver import held

SECRET = b"s" * 32
HEX = re.compile(r"[0-9a-f]+")


# -- the token -------------------------------------------------------------------------------


def test_a_token_is_the_first_128_bits_of_an_hmac_of_the_reader_s_key() -> None:
    made = token(SECRET, "ann@example.org")
    expected = hmac.new(SECRET, b"reader:ann@example.org", hashlib.sha256).hexdigest()[:32]
    assert made == expected
    assert TOKEN_LENGTH == len(made) == 32 and HEX.fullmatch(made)
    assert token(b"k", "") == "3cbeb2e1932757055f246dc9ebc4c6a7"  # pinned: tokens outlive runs


@pytest.mark.parametrize(
    ("secret", "key"),
    [(SECRET, "bob@example.org"), (SECRET, "Ann@example.org"), (b"t" * 32, "ann@example.org")],
    ids=["another reader", "another spelling", "another secret"],
)
def test_a_token_is_bound_to_one_reader_and_one_secret(secret: bytes, key: str) -> None:
    assert token(secret, key) != token(SECRET, "ann@example.org")
    assert not verify(secret, key, token(SECRET, "ann@example.org"))


def mine() -> str:
    return token(SECRET, "ann@example.org")


@pytest.mark.parametrize(
    ("given", "right"),
    [
        (mine(), True),
        (mine().upper(), True),  # as a mail client or a reader may retype it
        (f"  {mine()}\n", True),
        (mine()[:16] + ("0" if mine()[16] != "0" else "1") + mine()[17:], False),
        (mine()[:31], False),
        (mine()[:16], False),
        (mine() + "0", False),
        (mine()[:16] + mine()[:16], False),
        (f"{mine()[:16]} {mine()[16:]}", False),
        ("", False),
        ("0" * 32, False),
        ("\u00e9" * 32, False),  # not hex, not even ASCII: no, never an error
        (mine()[:31] + "\u0131", False),
        # A byte a web address could not decode, kept as a lone surrogate: no, never an error.
        (mine()[:31] + "\udcff", False),
        ("\udcff" * 32, False),
    ],
)
def test_verify_takes_the_reader_s_token_in_any_case_and_nothing_else(
    given: str, right: bool
) -> None:
    assert verify(SECRET, "ann@example.org", given) is right


@pytest.mark.parametrize(
    ("ident", "own"),
    [("e" * ID_LENGTH, "a" * (TOKEN_LENGTH - 1)), ("e" * (ID_LENGTH + 1), "a" * TOKEN_LENGTH)],
    ids=["a token one short", "a Message-ID one long"],
)
def test_a_reader_s_own_of_another_length_than_its_stand_in_is_refused(
    ident: str, own: str
) -> None:
    """Put in place of a stand-in, it would shift every line after it: the message breaks."""
    marks = Marks.new()
    with pytest.raises(AssertionError):
        addressed(rendering(marks), marks, to=ANN, ident=ident, token=own)


def test_marks_are_as_long_as_what_replaces_them_and_new_each_time() -> None:
    marks, other = Marks.new(), Marks.new()
    assert len(marks.token) == TOKEN_LENGTH and HEX.fullmatch(marks.token)
    assert len(marks.ident) == ID_LENGTH == len(envelope.ident()) and HEX.fullmatch(marks.ident)
    assert marks.token != other.token and marks.ident != other.ident
    assert marks.message_id("example.org") == f"<{marks.ident}@example.org>"
    link = "https://x.org/u/{token}?again={token}"
    assert marks.unsubscribe(link) == f"https://x.org/u/{marks.token}?again={marks.token}"
    assert marks.unsubscribe("https://x.org/") == "https://x.org/"


# -- one rendering, each reader's message -----------------------------------------------------


def rendering(marks: Marks, lead: int = 60, *, text_form: bool = False) -> Outgoing:
    """A digest rendered for every reader, as letters makes it: the token's stand-in in the
    List-Unsubscribe header and in the bodies (its text line `lead` characters in, so that
    a long line's soft break may fall inside it), no To header."""
    link = f"https://papers.example.org/u/{marks.token}"
    text = f"{'x' * lead}{marks.token} and {link}\nUnsubscribe: {link}\n"
    html = f"<p>{'y' * lead}{marks.token}</p><a href='{link}'>unsubscribe</a>"
    mail = message(
        subject="Daily papers: 3 new",
        text=text,
        html="" if text_form else html,
        options=MailOptions(sender=Address("Papers", "papers", "example.org"), unsubscribe=link),
        message_id=marks.message_id("example.org"),
        date="Wed, 12 Mar 2025 07:00:00 +0000",
    )
    return Outgoing(
        0,
        datetime(2025, 3, 12, tzinfo=UTC),
        "pending",
        marks.message_id("example.org"),
        "Daily papers: 3 new",
        3,
        {"text": text, "html": html},
        eml=mail,
    )


ANN = (Address("Ann Lee", "ann", "example.org"),)


def decoded(eml: bytes) -> tuple[email.message.EmailMessage, str]:
    """A message parsed, and every decoded text of its parts."""
    parsed = email.message_from_bytes(eml, policy=policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    texts = [part.get_content() for part in parsed.walk() if part.get_content_maintype() == "text"]
    return parsed, "\n".join(texts).replace("\r\n", "\n")


@pytest.mark.parametrize("lead", range(50, 76, 5))
def test_each_stand_in_is_replaced_where_it_is_lines_keeping_their_length(lead: int) -> None:
    marks = Marks.new()
    letter = rendering(marks, lead)
    assert letter.eml is not None
    expected = held(letter.eml, marks.token)
    # List-Unsubscribe, and in the text and in the HTML: the token, the link, the link again.
    assert expected == 1 + 3 + 2
    assert fits(letter, marks, expected)
    secret = token(SECRET, "ann@example.org")
    ident = envelope.ident()
    own = addressed(letter, marks, to=ANN, ident=ident, token=secret)
    assert own.eml is not None
    head, rest = own.eml.split(b"\r\n", 1)
    assert head == b"To: Ann Lee <ann@example.org>"
    # Byte for byte the rendering, the stand-ins aside: each line as long as it was.
    assert [len(line) for line in rest.split(b"\r\n")] == [
        len(line) for line in letter.eml.split(b"\r\n")
    ]
    assert marks.token.encode() not in own.eml and marks.ident.encode() not in own.eml
    parsed, texts = decoded(own.eml)
    assert held(own.eml, secret) == expected
    assert parsed["Message-ID"] == f"<{ident}@example.org>" == own.message_id
    assert parsed["List-Unsubscribe"].strip() == f"<https://papers.example.org/u/{secret}>"
    assert f"{'x' * lead}{secret} and https://papers.example.org/u/{secret}\n" in texts
    assert own.parts == {
        "text": letter.parts["text"].replace(marks.token, secret),
        "html": letter.parts["html"].replace(marks.token, secret),
    }
    assert own.parts["text"].count(secret) == 3
    assert own.shared is not None and message_of(own.shared) == dataclasses_without(own)


def dataclasses_without(item: Outgoing) -> Outgoing:
    import dataclasses

    return dataclasses.replace(item, shared=None)


@pytest.mark.parametrize("lead", [45, 60, 73])
def test_a_soft_line_break_inside_a_stand_in_stays_where_it_was(lead: int) -> None:
    """A text line longer than quoted-printable's 76 characters is cut by a soft break; one
    that falls inside the stand-in falls at the same place inside the reader's token."""
    marks = Marks.new()
    letter = rendering(marks, lead)
    assert letter.eml is not None
    start = letter.eml.index(b"x" * lead + marks.token[:1].encode()) + lead
    found = letter.eml[start : start + TOKEN_LENGTH + len(SOFT_BREAK)]
    at = found.index(SOFT_BREAK)  # 76 - 1 - lead characters of it before the break
    assert at == 75 - lead
    assert found == f"{marks.token[:at]}=\r\n{marks.token[at:]}".encode()
    secret = token(SECRET, "ann@example.org")
    own = addressed(letter, marks, to=ANN, ident=envelope.ident(), token=secret)
    assert own.eml is not None
    assert f"{'x' * lead}{secret[:at]}=\r\n{secret[at:]} and".encode() in own.eml


def test_a_stand_in_cut_by_several_soft_breaks_is_replaced_piece_by_piece() -> None:
    """Quoted-printable may break a line anywhere: each piece of the reader's token goes
    where the same piece of the stand-in was."""
    marks = Marks.new()
    m = marks.token
    body = f"{m[:5]}=\r\n{m[5:20]}=\r\n{m[20:]} and {m}\r\n"
    eml = (
        f"Message-ID: <{marks.ident}@example.org>\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + body
    ).encode()
    letter = Outgoing(0, datetime(2025, 3, 12, tzinfo=UTC), "pending", "<x@y>", "S", 1, {}, eml)
    assert held(eml, m) == 2 and fits(letter, marks, 2)
    t = "0123456789abcdef0123456789abcdef"
    own = addressed(letter, marks, to=(), ident="e" * ID_LENGTH, token=t)
    assert own.eml is not None
    assert own.eml.endswith(f"{t[:5]}=\r\n{t[5:20]}=\r\n{t[20:]} and {t}\r\n".encode())


def test_every_reader_gets_only_their_own_address_and_token() -> None:
    marks = Marks.new()
    letter = rendering(marks)
    readers = {
        "ann@example.org": (Address("Ann", "ann", "example.org"),),
        "bob@example.org": (Address("", "bob", "example.org"),),
    }
    made = {
        key: addressed(letter, marks, to=to, ident=envelope.ident(), token=token(SECRET, key))
        for key, to in readers.items()
    }
    for key, own in made.items():
        other = next(k for k in readers if k != key)
        assert own.eml is not None
        assert token(SECRET, key).encode() in own.eml.replace(SOFT_BREAK, b"")
        assert token(SECRET, other).encode() not in own.eml.replace(SOFT_BREAK, b"")
        assert other.encode() not in own.eml
    assert made["bob@example.org"].eml.startswith(b"To: bob@example.org\r\n")  # type: ignore[union-attr]


def test_a_text_only_rendering_is_addressed_the_same_way() -> None:
    marks = Marks.new()
    letter = rendering(marks, 70, text_form=True)
    expected = held(letter.eml, marks.token)
    assert expected == 1 + 3
    own = addressed(letter, marks, to=ANN, ident=envelope.ident(), token="a" * TOKEN_LENGTH)
    assert held(own.eml, "a" * TOKEN_LENGTH) == expected


def test_a_stand_in_an_encoding_split_otherwise_is_found_missing() -> None:
    """Base64 or a folded header hide a stand-in from a byte-wise replacement: the count of
    stand-ins seen in the bytes falls short of what the message holds, and the reader's
    message is then rendered whole instead."""
    marks = Marks.new()
    letter = rendering(marks)
    assert letter.eml is not None
    expected = held(letter.eml, marks.token)
    plain = letter.eml.replace(SOFT_BREAK, b"")
    # Exactly as many as went in: more or fewer, and something else made or cut one.
    assert fits(letter, marks, expected)
    assert not fits(letter, marks, expected + 1)
    assert not fits(letter, marks, expected - 1)
    import base64

    # The text part as base64: what it holds is the same, its bytes show no stand-in.
    start = letter.eml.index(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
    end = letter.eml.index(b"\r\n--", start)
    body = letter.eml[start:end].split(b"\r\n\r\n", 1)[1]
    import quopri

    b64 = base64.encodebytes(quopri.decodestring(body)).replace(b"\n", b"\r\n").rstrip()
    hidden = (
        letter.eml[:start] + b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + letter.eml[end:]
    )
    assert held(hidden, marks.token) == expected  # decoded, it still holds every one
    shown = Outgoing(**{**_fields(letter), "eml": hidden})
    assert not fits(shown, marks, expected)
    # A header folded through the stand-in: a line break and a space inside it.
    folded = plain.replace(
        marks.token.encode(), marks.token[:10].encode() + b"\r\n " + marks.token[10:].encode(), 1
    )
    assert not fits(Outgoing(**{**_fields(letter), "eml": folded}), marks, expected)
    # Without a message (no mail channel) there is nothing to split.
    assert fits(Outgoing(**{**_fields(letter), "eml": None}), marks, 5)
    assert held(None, marks.token) == 0


def _fields(item: Outgoing) -> dict[str, object]:
    import dataclasses

    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}


def test_the_to_header_lists_every_address_encoded_and_folded() -> None:
    many = tuple(Address(f"Reader {n}", f"reader{n}", "example.org") for n in range(6))
    header = to_header(many)
    assert header.endswith(b"\r\n") and header.startswith(b"To: Reader 0 <reader0@example.org>,")
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))
    unfolded = header.decode().replace("\r\n ", " ").removesuffix("\r\n")
    assert unfolded == "To: " + ", ".join(str(a) for a in many)
    assert to_header((Address("Zoë", "zoe", "example.org"),)) == (
        b"To: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>\r\n"
    )
    marks = Marks.new()
    own = addressed(rendering(marks), marks, to=many, ident=envelope.ident(), token="a" * 32)
    parsed, _ = decoded(own.eml or b"")
    assert [a.addr_spec for a in parsed["To"].addresses] == [a.addr_spec for a in many]
    none = addressed(rendering(marks), marks, to=(), ident=envelope.ident(), token="a" * 32)
    assert none.eml is not None and none.eml.startswith(b"Subject: ")
