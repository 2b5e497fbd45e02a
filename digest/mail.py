"""The digest as an email: what fits in the HTML size budget, and the MIME message itself.

Pure: a Digest and Settings in, bytes out. The message is built once, when the digest enters
the outbox, so every retry sends exactly the same bytes with the same Message-ID.

Size: Gmail cuts off a message whose HTML passes about 102 KB behind a "View entire message"
link. When the whole digest does not fit in HTML_BUDGET, the first papers keep their full
abstract, the next ones get a shortened abstract, the rest are listed by title, and the
complete digest (every abstract) is attached as Markdown. See `plan`.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from typing import Any

from digest import render
from digest.config import Settings
from digest.models import Digest

# Gmail clips at about 102 KB of HTML. The budget is counted on the quoted-printable form, as
# sent, which is never smaller than the HTML itself: under the limit however it is measured.
HTML_BUDGET = 100_000
FULL_FIRST = 3  # papers that keep their full abstract whenever they fit at all
FULL_MAX = 10  # papers given their full abstract, at most, when not everything fits
SHORT_CHARS = 280  # a shortened abstract's length, about two sentences
LIST_NAME = "Daily papers digest"
# CRLF line ends; 76 characters, the quoted-printable limit (RFC 2045), also for headers.
MAIL_POLICY = policy.SMTP.clone(max_line_length=76)


@dataclass(frozen=True, slots=True)
class Layout:
    """How many papers, in order, get a full abstract, a shortened one, a title line; the
    rest are only in the attachment. Only the first `abstracts` may show one (the others
    are past the reader's DIGEST_MAX_PAPERS); None means all of them."""

    total: int
    full: int
    short: int = 0
    compact: int = 0
    abstracts: int | None = None

    @property
    def omitted(self) -> int:
        """Papers left for the attachment alone."""
        return self.total - self.full - self.short - self.compact

    @property
    def complete(self) -> bool:
        """Every paper is shown as the reader asked: no attachment needed."""
        wanted = self.total if self.abstracts is None else self.abstracts
        return self.full == wanted and self.omitted == 0


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

    Everything as asked when it fits. Otherwise the reader should first see that every new
    paper is there, so: the first FULL_FIRST papers in full, then as many titles as fit;
    when all titles fit, the top of that list is upgraded, to full abstracts (up to FULL_MAX)
    and then to shortened ones, for as long as the budget allows.
    """
    most = total if abstracts is None else min(abstracts, total)

    def layout(full: int, short: int, compact: int) -> Layout:
        return Layout(total, full, short, compact, abstracts)

    everything = layout(most, 0, total - most)
    if fits(everything):
        return everything
    first = max(0, _largest(0, min(most, FULL_FIRST), lambda f: fits(layout(f, 0, 0))))
    compact = max(0, _largest(0, total - first, lambda c: fits(layout(first, 0, c))))
    if first + compact < total:
        return layout(first, 0, compact)
    full = _largest(first, min(most, FULL_MAX), lambda f: fits(layout(f, 0, total - f)))
    short = _largest(0, most - full, lambda s: fits(layout(full, s, total - full - s)))
    return layout(full, short, total - full - short)


def shorten(text: str, limit: int = SHORT_CHARS) -> str:
    """An abstract cut to about `limit` characters: at a sentence end when one is near enough,
    else at a word. The templates mark the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", head)]
    if ends and ends[-1] >= limit // 2:
        return head[: ends[-1]]
    return head[:limit].rsplit(" ", 1)[0].rstrip(",;:")


def encoded_size(html: str) -> int:
    """Bytes of the HTML part's body as it travels: quoted-printable, CRLF line ends."""
    encoded = binascii.b2a_qp(html.encode("utf-8"))
    return len(encoded) + encoded.count(b"\n")


def inline_css(html: str) -> str:
    """Move the <style> rules onto the elements, for clients that drop <style>; @media rules
    (dark mode, narrow screens) stay in a <style> block for those that honour them."""
    import css_inline

    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    return inliner.inline(html).rstrip("\n") + "\n"  # as a MIME text part ends


def _context(
    context: dict[str, Any], layout: Layout, attachment: str | None, settings: Settings
) -> dict[str, Any]:
    """The templates' context for one layout, from the digest's whole `render.context`."""
    views = context["papers"] + context["more"]  # those past DIGEST_MAX_PAPERS come last
    Entry = render.Entry
    full = [Entry(n, v, v["abstract"]) for n, v in enumerate(views[: layout.full], 1)]
    start = layout.full
    short = [
        Entry(n, v, cut, shortened=cut != " ".join(v["abstract"].split()))
        for n, v in enumerate(views[start : start + layout.short], start + 1)
        for cut in [shorten(v["abstract"])]
    ]
    start += layout.short
    listed = views[start : start + layout.compact]
    return {
        **context,
        "entries": full + short,
        "compact": [Entry(n, v, "") for n, v in enumerate(listed, start + 1)],
        "omitted": layout.omitted,
        "attachment": attachment,
        "unsubscribe": settings.unsubscribe or None,
    }


def compose(
    digest: Digest, settings: Settings, message_id: str, *, budget: int = HTML_BUDGET
) -> Composed:
    """Render a digest for mail, its HTML within `budget` bytes, and build the message."""
    env = render.environment(settings.templates)
    html_template = env.get_template(render.TEMPLATES["html"])
    subject = render.subject(digest, settings.subject)
    attachment = digest.created.strftime("daily-papers-%Y-%m-%d-%H%M.md")
    base = render.context(digest, settings.subject)

    @cache  # the plan tries layouts more than once; the chosen one is rendered again below
    def html_for(layout: Layout) -> str:
        shown = None if layout.complete else attachment
        return inline_css(html_template.render(_context(base, layout, shown, settings)))

    # Escaping and encoding only add bytes: a digest whose bare text passes the budget cannot
    # fit whole, and is not rendered whole to find out.
    bare = sum(len(p.title.encode()) + len(p.abstract.encode()) for p in digest.papers)

    def fits(layout: Layout) -> bool:
        if layout.complete and bare > budget:
            return False
        return encoded_size(html_for(layout)) <= budget

    layout = plan(len(digest.papers) + len(digest.more), fits, len(digest.papers))
    shown = None if layout.complete else attachment
    context = _context(base, layout, shown, settings)
    html = html_for(layout)
    text = env.get_template(render.TEMPLATES["text"]).render(context)
    markdown = render.render(digest, "markdown", settings.templates, settings.subject)
    domain = message_id.rpartition("@")[2].rstrip(">") or "localhost"
    msg = message(
        subject=subject,
        text=text,
        html=html,
        settings=settings,
        message_id=message_id,
        date=format_datetime(digest.created),
        default_domain=domain,
        attachment=(shown, markdown) if shown else None,
    )
    return Composed(subject, html, text, markdown, msg.as_bytes(), layout, shown)


def message(
    *,
    subject: str,
    text: str,
    html: str,
    settings: Settings,
    message_id: str,
    date: str,
    default_domain: str = "localhost",
    attachment: tuple[str, str] | None = None,
) -> EmailMessage:
    """The MIME message: multipart/alternative (text, then HTML), inside multipart/mixed with
    the Markdown digest when there is an attachment. Headers are encoded by the email package
    (RFC 2047 for non-ASCII), bodies quoted-printable; no line over 76 characters."""
    msg = EmailMessage(policy=MAIL_POLICY)
    sender = settings.sender or Address(LIST_NAME, "digest", default_domain)
    msg["Subject"] = subject
    msg["From"] = sender
    if settings.recipients:
        msg["To"] = settings.recipients
    msg["Date"] = date
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["List-Id"] = f"{LIST_NAME} <{settings.list_id or 'daily-papers.' + sender.domain}>"
    if settings.unsubscribe:
        msg["List-Unsubscribe"] = f"<{as_uri(settings.unsubscribe)}>"
        if settings.unsubscribe.startswith("https://"):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if attachment:
        name, content = attachment
        msg.add_attachment(
            content, subtype="markdown", charset="utf-8", cte="quoted-printable", filename=name
        )
    return msg


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
