"""The digest as an email: what fits in the HTML size budget, and the MIME message itself.

Pure: a digest's Renderer and the MailOptions in, bytes out. The message is built once, when
the digest enters the outbox, so every retry sends exactly the same bytes with the same
Message-ID.

Size: Gmail cuts off a message whose HTML passes about 102 KB behind a "View entire message"
link. When the whole digest does not fit in HTML_BUDGET, the budget is spent evenly: every
paper gets its TL;DR first, then as many papers as fit, most relevant first (the digest's
order), get their full abstract; only when not even every TL;DR fits are the last papers
listed by title. The complete digest (every abstract) is then attached as Markdown. See
`plan`.

The planner asks whether many layouts fit. It is answered from sizes known in advance: each
paper's fragment (full, TL;DR, title) rendered once (see Renderer.fragment), plus the frame
around them, measured on a whole render. The chosen layout is then rendered once and
checked; see `Sizes` and `compose`. The HTML is sent as written: its styles are classes in
the head, with inline styles only where clients that drop the head need them, so that the
dark-mode rules survive and text, not markup, fills the budget.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from digest.render.views import LINES, Entry, attachment_name

if TYPE_CHECKING:
    from digest.render.formats import Renderer

# Gmail clips at about 102 KB of HTML. The budget is counted on the quoted-printable form, as
# sent, which is never smaller than the HTML itself: under the limit however it is measured.
HTML_BUDGET = 100_000
LIST_NAME = "Daily papers digest"
# CRLF line ends; 76 characters, the quoted-printable limit (RFC 2045), also for headers.
MAIL_POLICY = policy.SMTP.clone(max_line_length=76)
FRAME_TRIES = 4  # layouts measured before planning falls back to rendering every one tried


@dataclass(frozen=True, slots=True)
class MailOptions:
    """What the mail settings say about a message: its sender (None: digest@ the host's
    domain), its recipients, the List-Unsubscribe address, the List-Id, and its form: "html"
    (HTML with its text alternative) or "text" (the text alone, for a reader who asked)."""

    sender: Address | None = None
    recipients: tuple[Address, ...] = ()
    unsubscribe: str = ""
    list_id: str = ""
    form: str = "html"


@dataclass(frozen=True, slots=True)
class Layout:
    """How many papers, in order, get their full abstract (and TL;DR), their TL;DR alone, a
    title line; the rest are only in the attachment. Only the first `abstracts` may show an
    abstract (the others are past the reader's DIGEST_MAX_PAPERS); None means all of them."""

    total: int
    full: int
    short: int = 0  # papers shown by their TL;DR alone
    compact: int = 0
    abstracts: int | None = None
    brief: bool = False  # a compact digest: TL;DRs, then title lines, as the reader asked

    @property
    def omitted(self) -> int:
        """Papers left for the attachment alone."""
        return self.total - self.full - self.short - self.compact

    @property
    def complete(self) -> bool:
        """Every paper is shown as the reader asked: no attachment needed."""
        if self.brief:
            return self.omitted == 0
        wanted = self.total if self.abstracts is None else min(self.abstracts, self.total)
        return self.full == wanted and self.compact == 0 and self.omitted == 0


@dataclass(frozen=True, slots=True)
class Composed:
    """A digest made into a mail: its parts, and the whole message as bytes."""

    subject: str
    html: str
    text: str
    markdown: str
    eml: bytes
    layout: Layout
    attachment: str | None
    html_renders: int = 0  # renders of the HTML template the size planning took
    unsubscribe: str = ""  # the List-Unsubscribe address
    form: str = "html"  # whether the message has the HTML, or the text alone

    def holds(self, mark: str) -> int:
        """How many times the message holds `mark` once decoded (its headers, each part):
        counted on what went into it, not read back from the message."""
        bodies = [self.text, self.html if self.form == "html" else ""]
        bodies.append(self.markdown if self.attachment else "")
        return self.unsubscribe.count(mark) + sum(body.count(mark) for body in bodies)


def reader_page(unsubscribe: str | None, page: str) -> str | None:
    """A reader's page of `digest web` beside their unsubscribe link, when it serves them
    (DIGEST_UNSUBSCRIBE=https://HOST/unsubscribe/{token} gives https://HOST/preferences/{token}
    and https://HOST/like/{token}); None otherwise (a mailto: address, another site)."""
    if not unsubscribe or not unsubscribe.startswith("https://"):
        return None
    before, found, after = unsubscribe.rpartition("/unsubscribe/")
    return f"{before}/{page}/{after}" if found and before.count("/") == 2 else None


def _largest(lo: int, hi: int, fits: Callable[[int], bool]) -> int:
    """The largest n in [lo, hi] with fits(n), given fits is true up to some n, then false;
    lo - 1 when none fits."""
    best = lo - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(mid):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def plan(total: int, fits: Callable[[Layout], bool], abstracts: int | None = None) -> Layout:
    """Choose the layout, given a test of whether one fits the size budget; only the first
    `abstracts` papers (all by default) may show their abstract.

    Everything as asked when it fits. Otherwise every paper its TL;DR, then the first
    papers (the most relevant) their full abstract, as many as fit. When not every TL;DR
    fits: TL;DRs for as many as fit, then title lines, then the attachment alone.
    """
    most = total if abstracts is None else min(abstracts, total)

    def layout(full: int, short: int, compact: int) -> Layout:
        return Layout(total, full, short, compact, abstracts)

    everything = layout(most, total - most, 0)
    if fits(everything):
        return everything
    tldrs = _largest(0, total, lambda s: fits(layout(0, s, total - s)))
    if tldrs < 0:  # not even every title: as many as fit
        return layout(0, 0, max(0, _largest(0, total, lambda c: fits(layout(0, 0, c)))))
    if tldrs < total:
        return layout(0, tldrs, total - tldrs)
    full = max(0, _largest(0, most, lambda f: fits(layout(f, total - f, 0))))
    return layout(full, total - full, 0)


def encoded_size(html: str) -> int:
    """Bytes of the HTML part's body as it travels: quoted-printable, CRLF line ends."""
    encoded = binascii.b2a_qp(html.encode("utf-8"))
    return len(encoded) + encoded.count(b"\n")


@dataclass(frozen=True, slots=True)
class Sizes:
    """The encoded size of every paper's fragment in each form, as running totals (`full[n]`:
    the first n papers in full), and of the frame around them: what a layout's HTML weighs,
    without rendering it. Fragments are whole lines, so their quoted-printable sizes add up."""

    full: list[int]
    short: list[int]
    compact: list[int]

    @staticmethod
    def totals(sizes: list[int]) -> list[int]:
        """Running totals, from 0."""
        out = [0]
        for size in sizes:
            out.append(out[-1] + size)
        return out

    def papers(self, layout: Layout) -> int:
        """Bytes of the papers a layout shows, in their forms."""
        f, s, c = layout.full, layout.short, layout.compact
        return (
            self.full[f]
            + self.short[f + s]
            - self.short[f]
            + self.compact[f + s + c]
            - self.compact[f + s]
        )


class MailPage:
    """The HTML of a digest's mail for any layout: contexts, renders (counted), sizes."""

    def __init__(self, renderer: Renderer, unsubscribe: str | None, attachment: str) -> None:
        self.renderer = renderer
        self.unsubscribe = unsubscribe
        self.attachment = attachment
        view = renderer.view
        # Those past DIGEST_MAX_PAPERS come last; in a compact digest, its lead papers first.
        self.views = view.order if view.brief else view.papers + view.more
        self.full = view.entries()
        self.short = [
            Entry(n, v, "", shortened=bool(v["abstract"]), form="tldr")
            for n, v in enumerate(self.views, 1)
        ]
        self.compact = [Entry(n, v, "", form="title") for n, v in enumerate(self.views, 1)]
        self.raws: dict[Layout, str] = {}
        self.made: dict[Layout, tuple[str, int]] = {}  # layout: HTML, encoded size

    def shown(self, layout: Layout) -> str | None:
        """The attachment's name when the layout needs one."""
        return None if layout.complete else self.attachment

    def context(self, layout: Layout) -> dict[str, Any]:
        """The templates' context for one layout."""
        start, short = layout.full, layout.full + layout.short
        return {
            **self.renderer.context(),
            "entries": self.full[:start] + self.short[start:short],
            "compact": self.compact[short : short + layout.compact],
            "omitted": layout.omitted,
            "attachment": self.shown(layout),
            "unsubscribe": self.unsubscribe,
            "preferences": reader_page(self.unsubscribe, "preferences"),
            "like": reader_page(self.unsubscribe, "like"),  # more or less like a paper
        }

    def raw(self, layout: Layout) -> str:
        """The HTML of a layout; each rendered once."""
        if layout not in self.raws:
            if layout.complete and self.unsubscribe is None:
                # The same context as the HTML file's: one render serves both.
                self.raws[layout] = self.renderer.render("html")
            else:
                self.raws[layout] = self.renderer.template("html", self.context(layout))
        return self.raws[layout]

    def html(self, layout: Layout) -> tuple[str, int]:
        """The HTML of a layout, as sent, and its encoded size; each made once."""
        if layout not in self.made:
            html = self.raw(layout).rstrip("\n") + "\n"  # as a MIME text part ends
            self.made[layout] = (html, encoded_size(html))
        return self.made[layout]

    def sizes(self) -> Sizes:
        """Every paper's fragment in each form, as the page's loops write it: the fragment,
        then a line end."""

        def size(entry: Entry) -> int:
            return encoded_size(f"{self.renderer.fragment(entry, 'html')}\n")

        return Sizes(
            Sizes.totals([size(e) for e in self.full]),
            Sizes.totals([size(e) for e in self.short]),
            Sizes.totals([size(e) for e in self.compact]),
        )


def _shape(layout: Layout) -> tuple[bool, bool, bool, bool]:
    """What decides a layout's frame, beside a few digits: whether it is the whole digest,
    whether it has a title list, shortened abstracts, papers left to the attachment."""
    return layout.complete, layout.compact > 0, layout.short > 0, layout.omitted > 0


def size(mail: MailPage, total: int, most: int, budget: int, bare: int) -> Layout:
    """The layout `plan` chooses, from the fragments' sizes and the frame's, the frame being
    measured on whole renders: of the whole digest (or of no paper, when its bare text is
    over the budget already), then of each layout the plan picks, until the pick is one
    whose frame was measured and that fits, normally by the third render. A template of the
    user's own that draws papers otherwise than the fragments say is planned as before, by
    rendering each layout tried."""
    everything = Layout(total, most, total - most, 0, most)
    # Escaping and encoding only add bytes: a digest whose bare text passes the budget cannot
    # fit whole, and is not rendered whole to find out; only its frame is.
    first = everything if bare <= budget else Layout(total, 0, 0, 0, most)
    measured = mail.html(first)[1]
    if first == everything and measured <= budget:
        return everything
    sizes = mail.sizes()
    frames = {_shape(first): measured - sizes.papers(first)}

    def fits(layout: Layout) -> bool:
        if layout.complete:
            return False  # it did not fit, or was not tried as its text alone is too big
        # A frame not measured yet is taken at its smallest: the pick is then measured.
        frame = frames.get(_shape(layout), min(frames.values()))
        return frame + sizes.papers(layout) <= budget

    for _ in range(FRAME_TRIES):
        tried = plan(total, fits, most)
        known = _shape(tried) in frames
        measured = mail.html(tried)[1]
        frames[_shape(tried)] = measured - sizes.papers(tried)
        if known and measured <= budget and plan(total, fits, most) == tried:
            return tried

    def renders(layout: Layout) -> bool:
        return not (layout.complete and bare > budget) and mail.html(layout)[1] <= budget

    return plan(total, renders, most)


def brief(mail: MailPage, lead: int, budget: int, lines: int = LINES) -> Layout:
    """The layout of a compact digest: its `lead` papers by their TL;DR, then at most `lines`
    title lines, fewer when the size budget asks for it; the rest only in the attachment."""
    total = len(mail.views)

    def layout(compact: int) -> Layout:
        return Layout(total, 0, min(lead, total), compact, 0, brief=True)

    most = min(lines, total - min(lead, total))
    if mail.html(layout(most))[1] <= budget:
        return layout(most)
    sizes = mail.sizes()
    frame = mail.html(layout(0))[1] - sizes.papers(layout(0))
    return layout(max(0, _largest(0, most, lambda c: frame + sizes.papers(layout(c)) <= budget)))


def compose(
    renderer: Renderer,
    options: MailOptions,
    message_id: str,
    *,
    budget: int = HTML_BUDGET,
) -> Composed:
    """Render a digest for mail, its HTML within `budget` bytes, and build the message."""
    digest = renderer.digest
    attachment = attachment_name(digest)
    mail = MailPage(renderer, options.unsubscribe or None, attachment)
    before = renderer.renders["html"]
    if renderer.view.brief:
        layout = brief(mail, renderer.view.lead, budget)
    else:
        bare = sum(len(p.title.encode()) + len(p.abstract.encode()) for p in digest.papers)
        layout = size(mail, len(mail.views), len(digest.papers), budget, bare)
    html = mail.html(layout)[0]
    shown = mail.shown(layout)
    text = renderer.template("text", mail.context(layout))
    markdown = renderer.render("markdown") if shown else ""  # the attachment, when there is one
    domain = message_id.rpartition("@")[2].rstrip(">") or "localhost"
    msg = message(
        subject=renderer.view.subject,
        text=text,
        html=html if options.form == "html" else "",
        options=options,
        message_id=message_id,
        date=format_datetime(digest.created),
        default_domain=domain,
        attachment=(shown, markdown) if shown else None,
    )
    return Composed(
        renderer.view.subject,
        html,
        text,
        markdown,
        msg,
        layout,
        shown,
        renderer.renders["html"] - before,
        options.unsubscribe,
        options.form,
    )


def message(
    *,
    subject: str,
    text: str,
    html: str,
    options: MailOptions,
    message_id: str,
    date: str,
    default_domain: str = "localhost",
    attachment: tuple[str, str] | None = None,
) -> bytes:
    """The MIME message: multipart/alternative (text, then HTML), inside multipart/mixed with
    the Markdown digest when there is an attachment. Headers are encoded by the email package
    (RFC 2047 for non-ASCII), bodies quoted-printable; no line over 76 characters. The same
    digest and headers make the same bytes, whoever it is made for and whenever."""
    msg = EmailMessage(policy=MAIL_POLICY)
    sender = options.sender or Address(LIST_NAME, "digest", default_domain)
    headers = [("Subject", subject), ("From", str(sender))]
    if options.recipients:
        headers.append(("To", ", ".join(str(a) for a in options.recipients)))
    headers += [("Date", date), ("Message-ID", message_id), ("Auto-Submitted", "auto-generated")]
    headers.append(
        ("List-Id", f"{LIST_NAME} <{options.list_id or 'daily-papers.' + sender.domain}>")
    )
    if options.unsubscribe:
        headers.append(("List-Unsubscribe", f"<{as_uri(options.unsubscribe)}>"))
        if options.unsubscribe.startswith("https://"):
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for name, value in headers:
        msg.set_raw(name, folded(name, value))
    # The bodies are encoded by binascii (C) rather than the email package's pure-Python
    # encoder: the same quoted-printable, twelve times faster on a digest of sixty papers. The
    # email package writes the message around stand-ins for them (`_Bodies`), then they are
    # put in, each line ended as it would have ended it.
    bodies = _Bodies()
    body = bodies.part(text, "plain")
    if html:  # none for a reader who asked for plain text
        body = _multipart("alternative", [body, bodies.part(html, "html")])
    if attachment:
        name, content = attachment
        attached = bodies.part(content, "markdown")
        attached["Content-Disposition"] = f'attachment; filename="{name}"'
        body = _multipart("mixed", [body, attached])
    for header, value in body.items():
        msg[header] = value
    msg.set_payload(body.get_payload())
    return bodies.put(msg.as_bytes())


class _Bodies:
    """A message's bodies, quoted-printable: stand-ins in the parts while the email package
    writes the message around them, then put in."""

    def __init__(self) -> None:
        import secrets

        self.mark = f"digest-body-{secrets.token_hex(8)}-"
        self.encoded: list[bytes] = []

    def part(self, content: str, subtype: str) -> MIMEPart:
        """A text part in UTF-8, quoted-printable, lines within 76 characters."""
        part = MIMEPart(policy=MAIL_POLICY)
        part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
        part["Content-Transfer-Encoding"] = "quoted-printable"
        encoded = binascii.b2a_qp(content.encode("utf-8"), istext=True)
        # Line ends as the email package writes a payload's: CRLF for each of them.
        self.encoded.append(b"\r\n".join(re.split(rb"\r\n|\r|\n", encoded)))
        part.set_payload(f"{self.mark}{len(self.encoded)}.")
        return part

    def put(self, written: bytes) -> bytes:
        """The message written with the stand-ins, the bodies in their place."""
        for n, encoded in enumerate(self.encoded, 1):
            written = written.replace(f"{self.mark}{n}.".encode(), encoded, 1)
        return written


@lru_cache(maxsize=1024)
def folded(name: str, value: str) -> Any:
    """A header as the mail policy parses it, made once for the same value: most of a run's
    messages share their sender, date and list headers."""
    # header_store_parse refuses a value with a line break: no header can be injected.
    return MAIL_POLICY.header_store_parse(name, value)[1]


# A multipart's boundary: "=_" never occurs in a quoted-printable body (an "=" there is
# followed by two hex digits or a line end), so one boundary serves every message, and a
# digest's message is the same bytes whenever it is made.
BOUNDARY = "=_daily-papers-{}"


def _multipart(subtype: str, parts: list[MIMEPart]) -> MIMEPart:
    whole = MIMEPart(policy=MAIL_POLICY)
    whole["Content-Type"] = f'multipart/{subtype}; boundary="{BOUNDARY.format(subtype)}"'
    whole.set_payload(parts)  # type: ignore[arg-type]
    return whole


def as_uri(iri: str) -> str:
    """An address that may hold non-ASCII characters (https://exemple.fr/désabonner) as the
    ASCII URI a mail header must carry: each such character percent-encoded as UTF-8."""
    from urllib.parse import quote

    return quote(iri, safe="".join(chr(c) for c in range(0x21, 0x7F)))


def without_attachment(eml: bytes, limit: int, digest_id: int, spare: int = 0) -> bytes | None:
    """The stored message made to fit a server's size `limit` (bytes), `spare` of them kept
    for the transfer itself: as it is when it fits;
    else with its attachment replaced by a short note saying why it is missing; None when
    even that does not fit. The same message and limit always give the same bytes."""
    if len(eml) + spare <= limit:
        return eml
    from email.parser import BytesParser

    msg = BytesParser(policy=MAIL_POLICY).parsebytes(eml)
    assert isinstance(msg, EmailMessage)
    if not msg.is_multipart() or msg.get_content_type() != "multipart/mixed":
        return None
    kept = [part for part in msg.iter_parts() if part.get_content_disposition() != "attachment"]
    dropped = [part for part in msg.iter_parts() if part not in kept]
    if not dropped:
        return None
    names = ", ".join(str(part.get_filename() or "the complete digest") for part in dropped)
    from email.message import MIMEPart

    note = MIMEPart(policy=MAIL_POLICY)
    note.set_content(
        f"{names} ({len(eml) // 1024:,} KB with it) is not attached: the mail server accepts"
        f" messages of at most {limit // 1024:,} KB. Every paper of this digest is in the"
        f" files that `digest resend {digest_id} --deliver files` writes.\n",
        subtype="plain",
        charset="utf-8",
        cte="quoted-printable",
    )
    msg.set_payload([*kept, note])
    fitted = msg.as_bytes()
    return fitted if len(fitted) + spare <= limit else None
