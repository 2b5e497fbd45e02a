"""Each reader's digest: the run's new papers and those after the reader's position, shaped
by their settings (highlights, exclusions, interests, cap), rendered once for every reader
who gets the same digest (a Letter, with stand-ins for what is each reader's own), then
addressed to each (digest.envelope): their To, their Message-ID, their token.

    digests()   readers -> their messages, a chunk at a time, the readers moved on, and
                what could not be made (values: the pipeline records them in its report)
    outgoing()  a digest rendered into what the outbox keeps and deliverers take
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from digest import reader_settings
from digest.errors import ConfigError
from digest.models import Base, Digest, Outgoing, Paper, ReaderState
from digest.outputs import FORMATS

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Mapping, Set
    from email.headerregistry import Address

    from digest.envelope import Marks
    from digest.interests import Interests
    from digest.readers import Reader, Resolved
    from digest.relevance import Catalogue
    from digest.render import Renderer
    from digest.render.formats import Fragments
    from digest.render.mail import Composed, MailOptions
    from digest.settings import Settings
    from digest.state.roles import Roles

log = logging.getLogger(__name__)


def outgoing(
    digest: Digest,
    settings: Settings,
    hostname: str | None = None,
    *,
    needs: Set[str] = frozenset({*FORMATS, "eml"}),
    options: MailOptions | None = None,
    message_id: str | None = None,
    fragments: Fragments | None = None,
) -> Outgoing:
    """Render a digest into the form the outbox keeps and deliverers take: what `needs`
    names (formats, and "eml" for the complete mail message, made once so that every retry
    sends the same bytes with the same Message-ID); the rest is not made. `options` are
    the mail settings' by default; `fragments` a run's cache of papers' fragments, shared
    by its digests (see render.Renderer)."""
    from email.utils import make_msgid

    if message_id is None:
        message_id = make_msgid("digest", domain=_domain(settings, hostname))
    if options is None:
        options = mail_options(settings, recipients=settings.recipients)
    return _made(digest, settings, needs, options, message_id, fragments)[0]


def _made(
    digest: Digest,
    settings: Settings,
    needs: Set[str],
    options: MailOptions,
    message_id: str,
    fragments: Fragments | None,
) -> tuple[Outgoing, Composed | None]:
    """`outgoing`, with the mail as composed (None when none was needed)."""
    from digest import render

    renderer = render.Renderer(
        digest, templates=settings.templates, subject=settings.subject, fragments=fragments
    )
    try:
        return _rendered(renderer, options, message_id, needs)
    except Exception as e:  # a user's template, broken: one line naming it
        if (failure := render.template_failure(e)) is not None:
            raise failure from None
        raise


def _domain(settings: Settings, hostname: str | None = None) -> str:
    """The domain of the Message-IDs: the sender's, else this host's name."""
    import socket

    sender = settings.sender
    # Not getfqdn(): a DNS lookup, made while the run lock is held.
    domain = hostname or (sender.domain if sender else None) or socket.gethostname()
    return domain or "digest.invalid"


def mail_options(
    settings: Settings,
    *,
    unsubscribe: str | None = None,
    recipients: tuple[Address, ...] = (),
    form: str = "html",
) -> MailOptions:
    """What the mail settings say about a message in a reader's `form`; by default with no
    To (each reader's is put in when it is addressed to them) and DIGEST_UNSUBSCRIBE as it is."""
    from digest.render.mail import MailOptions

    link = settings.unsubscribe if unsubscribe is None else unsubscribe
    return MailOptions(settings.sender, recipients, link, settings.list_id, form)


def _rendered(
    renderer: Renderer, options: MailOptions, message_id: str, needs: Set[str]
) -> tuple[Outgoing, Composed | None]:
    from digest.render import mail

    composed = mail.compose(renderer, options, message_id) if "eml" in needs else None
    # Files, stdout and the archive's pages get the whole digest, every abstract included;
    # the mail is compact unless the reader asked for the abstracts, and keeps to its size
    # budget (see digest.render.mail). When all of it fits, they are one.
    detailed = renderer.detailed()
    whole = composed.layout.complete if composed is not None else False
    whole = whole and detailed is renderer

    def part(fmt: str) -> str:
        if whole and composed is not None and fmt in ("html", "text"):
            return str(getattr(composed, fmt))
        return detailed.render(fmt)

    digest = renderer.digest
    made = Outgoing(
        id=0,
        created=digest.created,
        status="pending",
        message_id=message_id,
        subject=renderer.view.subject,
        paper_count=digest.stats.new,
        parts={fmt: part(fmt) for fmt in FORMATS if fmt in needs},
        eml=composed.eml if composed is not None else None,
    )
    return made, composed


CHUNK = 25  # readers' digests made, stored and delivered at a time: memory stays flat


def digests(
    settings: Settings,
    store: Roles,
    audience: Sequence[Reader],
    states: Mapping[str, ReaderState],
    base: Digest,
    fresh: Sequence[Paper],
    needs: Set[str],
) -> Iterator[Chunk]:
    """Each reader's digest of the papers new to them (after their position), shaped by
    their settings, a chunk of readers at a time; readers with nothing new are moved on
    instead. A digest is rendered once for all readers with the same settings and the same
    new papers: readers are taken group by group, so only one rendering is kept at a time."""
    end = store.end()
    offered: dict[int, list[Paper]] = {}  # the new papers after a position
    chosen = []
    fragments: Fragments = {}  # each paper drawn once a run, whatever the number of readers
    for reader in audience:
        state = states[reader.key]
        resolved = reader_settings.resolve(reader, settings, state)
        if not resolved.paused:  # paused: nothing for now, and nothing missed
            chosen.append((reader, state, resolved))
    chosen.sort(key=lambda c: (repr(c[2].signature()), c[1].upto))  # stable: file order within
    group: tuple[object, ...] | None = None
    letter: Letter | None = None
    # Readers whose settings differ may still get the same digest (an exclusion that matches
    # nothing, a cap above the count): the last renderings, by what they show.
    letters: OrderedDict[tuple[object, ...], Letter] = OrderedDict()
    made: list[Outgoing] = []
    moves: list[tuple[int, int, int]] = []
    failed: list[str] = []
    first: Digest | None = None  # the first reader's digest, until a chunk has carried it
    first_made = False
    unusable: str | None = None  # why the group's settings cannot shape a digest
    catalogue: Catalogue | None = None  # made once a run, when a reader's papers are scored
    common: Base | None = None  # the run's base rendering, made with the first letter
    for reader, state, resolved in chosen:
        if state.upto not in offered:
            offered[state.upto] = [p for _, p in store.offered(state.upto, end)] + list(fresh)
        papers = offered[state.upto]
        liked = store.likes(state.id)  # the papers they liked or disliked rank theirs too
        if group != (resolved.signature(), state.upto, tuple((i, v) for i, _, v in liked)):
            group = (resolved.signature(), state.upto, tuple((i, v) for i, _, v in liked))
            letter, unusable = None, None
            if catalogue is None and papers and (resolved.interests.strip() or liked):
                catalogue = _catalogue(store, end, fresh)
            try:
                digest = _theirs(base, papers, resolved, liked, catalogue)
            except ConfigError as e:  # their own terms, say: it costs only them
                unusable = str(e)
            else:
                if not first_made:
                    first, first_made = digest, True
                if digest.stats.new or digest.updated or settings.send_empty:
                    shows = _shows(digest, resolved.format)
                    letter = letters.get(shows)
                    if letter is None:
                        if common is None and len(chosen) > 1:  # a reader alone has no use for one
                            common = _base(base, papers, settings, needs, fragments)
                        letter = letters[shows] = _letter(
                            digest, settings, resolved.format, needs, fragments, common
                        )
                        if len(letters) > LETTERS:
                            letters.popitem(last=False)
                    letters.move_to_end(shows)
        if unusable is not None:  # kept where they are: they miss nothing once it is fixed
            failed.append(
                f"reader {reader.email or 'of DIGEST_TO'}: {unusable}; nothing is made for them"
                " until it is fixed, and they miss nothing"
            )
            continue
        if letter is None:  # nothing for them: what they excluded is done with at once
            if end > state.upto:
                moves.append((state.id, state.upto, end))
            continue
        item = _addressed(settings, reader, letter, state.token, needs)
        made.append(
            dataclasses.replace(
                item, reader=state.id, after=state.upto, upto=end, reader_key=reader.key
            )
        )
        if len(made) >= CHUNK:
            yield Chunk(made, moves, failed, first)
            made, moves, failed, first = [], [], [], None
    if made or moves or failed or first is not None:
        yield Chunk(made, moves, failed, first)


@dataclass(frozen=True, slots=True)
class Chunk:
    """What digests() made for a chunk of readers: their messages, the positions of the
    readers with nothing new to move (reader, from, to), a line for each reader whose
    settings could not make a digest, and the first reader's digest when it is in this
    chunk (what the run's report shows)."""

    made: list[Outgoing]
    moves: list[tuple[int, int, int]]
    failed: list[str]
    digest: Digest | None = None


LETTERS = 16  # renderings kept for readers with other settings and the same digest


def _theirs(
    base: Digest,
    papers: Sequence[Paper],
    resolved: Resolved,
    liked: Sequence[tuple[int, Paper, int]],
    catalogue: Catalogue | None = None,
) -> Digest:
    """A reader's digest of these papers; ConfigError when their settings cannot be used."""
    if not papers:  # no interests to read when there is nothing to shape: start-up stays light
        return dataclasses.replace(base, papers=(), more=(), excluded=(), highlights={})
    wants = _interests(resolved, tuple((p, v) for _, p, v in liked))
    return shaped(base, papers, wants, catalogue)


CATALOGUE = 5000  # latest papers whose terms weigh relevance: a few months of listings


def _catalogue(store: Roles, end: int, fresh: Sequence[Paper]) -> Catalogue:
    """The papers seen, as the relevance model weighs words by them: the latest offered and
    the run's own, read once a run for every reader; short of CATALOGUE, the latest of those
    recorded as seen at once (a backlog, offered to nobody) too, by title and abstract."""
    from digest.relevance import Catalogue

    seen = [p for _, p in store.offered(max(0, end - CATALOGUE), end)]
    known = set(seen)
    papers = [*seen, *(p for p in fresh if p not in known)]  # oldest first
    if len(papers) < CATALOGUE:
        titles = {p.title for p in papers}
        ids = sorted(i for chunk in store.all_titles() for i, t in chunk.items() if t not in titles)
        older = store.stored(ids[-(CATALOGUE - len(papers)) :])
        papers[:0] = [Paper(s.title, s.abstract) for _, s in sorted(older.items())]
    return Catalogue.of(papers)


def _shows(digest: Digest, form: str) -> tuple[object, ...]:
    """What a reader's digest shows, as a key: two readers with equal keys get equal
    digests. Papers are the run's own objects, compared by identity."""
    return (
        form,
        tuple(map(id, digest.papers)),
        tuple(map(id, digest.more)),
        tuple(map(id, digest.excluded)),
        tuple((id(p), terms) for p, terms in digest.highlights.items()),
        tuple(t.text for t in digest.highlight),
        tuple((id(p), why) for p, why in digest.reasons.items()),
        tuple((id(p), score) for p, score in digest.scores.items()),
        digest.detail,
    )


@dataclass(frozen=True, slots=True)
class Letter:
    """A digest rendered once for the readers it is for, with stand-ins for what is each
    one's own (see digest.envelope), and how many token stand-ins its message must hold."""

    digest: Digest
    item: Outgoing
    marks: Marks
    expected: int
    format: str
    base: Base | None = None  # the run's base rendering, that the outbox compresses it against


def shaped(
    base: Digest, papers: Sequence[Paper], wants: Interests, catalogue: Catalogue | None = None
) -> Digest:
    """The run's digest made a reader's: their new papers, shaped by their interests (their
    relevance weighed by the `catalogue` of papers seen)."""
    from digest import interests

    chosen = interests.select(papers, wants, catalogue)
    return dataclasses.replace(
        base,
        papers=chosen.full,
        more=chosen.more,
        excluded=chosen.excluded,
        highlights=chosen.highlights,
        highlight=wants.highlight,
        reasons=chosen.reasons,
        scores=chosen.scores,
        low_scored=chosen.low,
        detail=wants.detail,
    )


def _base(
    base: Digest, papers: Sequence[Paper], settings: Settings, needs: Set[str], fragments: Fragments
) -> Base:
    """The run's base rendering: the papers new to its first reader with a digest, in the
    listings' order, in every format the readers' digests are made in (each paper's fragments
    made once, for them too)."""
    from digest.envelope import ident
    from digest.interests import Interests

    digest = shaped(base, papers, Interests(detail=settings.detail))
    item = outgoing(
        digest, settings, needs=needs, message_id=f"<{ident()}@base>", fragments=fragments
    )
    return Base(ident(), item.parts, item.eml)


def _letter(
    digest: Digest,
    settings: Settings,
    form: str,
    needs: Set[str],
    fragments: Fragments,
    base: Base | None = None,
) -> Letter:
    """A digest rendered once for every reader it is for: no To header, stand-ins for the
    Message-ID and the token."""
    from digest.envelope import Marks

    marks = Marks.new()
    options = mail_options(settings, unsubscribe=marks.unsubscribe(settings.unsubscribe), form=form)
    message_id = marks.message_id(_domain(settings))
    item, composed = _made(digest, settings, needs, options, message_id, fragments)
    expected = composed.holds(marks.token) if composed is not None else 0
    return Letter(digest, item, marks, expected, form, base)


def _addressed(
    settings: Settings, reader: Reader, letter: Letter, given: str | None, needs: Set[str]
) -> Outgoing:
    """The rendered digest as this reader's message: only their address, their own
    Message-ID and token (`given`)."""
    from digest import envelope

    to = settings.recipients if reader.key == "" else (reader.address(),)
    marks = letter.marks
    token = given or marks.token
    ident = envelope.ident()
    if envelope.fits(letter.item, marks, letter.expected):
        return envelope.addressed(
            letter.item, marks, to=to, ident=ident, token=token, base=letter.base
        )
    # An encoding split a stand-in: this reader's message is rendered whole.
    link = settings.unsubscribe.replace("{token}", token)
    options = mail_options(settings, unsubscribe=link, recipients=to, form=letter.format)
    message_id = f"<{ident}@{_domain(settings)}>"
    return outgoing(letter.digest, settings, needs=needs, options=options, message_id=message_id)


def _interests(resolved: Resolved, likes: tuple[tuple[Paper, int], ...] = ()) -> Interests:
    from digest.interests import Interests
    from digest.patterns import terms

    return Interests(
        highlight=terms(resolved.highlight, "highlight"),  # compiled once a run, see patterns
        exclude=terms(resolved.exclude, "exclude"),
        order=resolved.order,
        max_papers=resolved.max_papers,
        interests=resolved.interests,
        likes=likes,
        min_score=resolved.min_score,
        detail=resolved.detail,
    )
