"""Each reader's digest: the run's new papers and those after the reader's position, shaped
by their settings (highlights, exclusions, interests, cap), rendered once for every reader
who gets the same digest (a Letter, with stand-ins for what is each reader's own), then
addressed to each (digest.envelope): their To, their Message-ID, their token.

    digests()   readers -> their messages, a chunk at a time, and the readers moved on
    resolve()   a reader's settings: the readers file over DIGEST_*, their own changes over both
    outgoing()  a digest rendered into what the outbox keeps and deliverers take
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from digest.errors import ConfigError
from digest.models import Digest, Outgoing, Paper, ReaderState
from digest.outputs import FORMATS

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Mapping, Set
    from email.headerregistry import Address

    from digest.config import Settings
    from digest.envelope import Marks
    from digest.interests import Interests
    from digest.pipeline import Report
    from digest.readers import Reader, Resolved
    from digest.render import Renderer
    from digest.render.formats import Fragments
    from digest.render.mail import MailOptions
    from digest.state.protocol import StateStore

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

    from digest import render

    if message_id is None:
        message_id = make_msgid("digest", domain=_domain(settings, hostname))
    renderer = render.Renderer(
        digest, templates=settings.templates, subject=settings.subject, fragments=fragments
    )
    try:
        if options is None:
            options = mail_options(settings, recipients=settings.recipients)
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
) -> Outgoing:
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
    return Outgoing(
        id=0,
        created=digest.created,
        status="pending",
        message_id=message_id,
        subject=renderer.view.subject,
        paper_count=digest.stats.new,
        parts={fmt: part(fmt) for fmt in FORMATS if fmt in needs},
        eml=composed.eml if composed is not None else None,
    )


CHUNK = 25  # readers' digests made, stored and delivered at a time: memory stays flat


def digests(
    settings: Settings,
    store: StateStore,
    audience: Sequence[Reader],
    states: Mapping[str, ReaderState],
    base: Digest,
    fresh: Sequence[Paper],
    needs: Set[str],
    report: Report,
) -> Iterator[tuple[list[Outgoing], list[tuple[int, int, int]]]]:
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
        resolved = resolve(reader, settings, state)
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
    unusable: str | None = None  # why the group's settings cannot shape a digest
    for reader, state, resolved in chosen:
        if state.upto not in offered:
            offered[state.upto] = [p for _, p in store.offered(state.upto, end)] + list(fresh)
        papers = offered[state.upto]
        liked = store.likes(state.id)  # the papers they liked or disliked rank theirs too
        if group != (resolved.signature(), state.upto, tuple((i, v) for i, _, v in liked)):
            group = (resolved.signature(), state.upto, tuple((i, v) for i, _, v in liked))
            letter, unusable = None, None
            try:
                digest = _theirs(base, papers, resolved, liked)
            except ConfigError as e:  # their own terms, say: it costs only them
                unusable = str(e)
            else:
                if report.digest is base:
                    report.digest = digest
                if digest.stats.new or digest.updated or settings.send_empty:
                    shows = _shows(digest, resolved.format)
                    letter = letters.get(shows)
                    if letter is None:
                        letter = letters[shows] = _letter(
                            digest, settings, resolved.format, needs, fragments
                        )
                        if len(letters) > LETTERS:
                            letters.popitem(last=False)
                    letters.move_to_end(shows)
        if unusable is not None:  # kept where they are: they miss nothing once it is fixed
            report.failed.append(
                f"reader {reader.email or 'of DIGEST_TO'}: {unusable}; nothing is made for them"
                " until it is fixed, and they miss nothing"
            )
            continue
        if letter is None:  # nothing for them: what they excluded is done with at once
            if end > state.upto:
                moves.append((state.id, state.upto, end))
            continue
        item = _addressed(settings, reader, letter, state.token, needs)
        made.append(dataclasses.replace(item, reader=state.id, after=state.upto, upto=end))
        if len(made) >= CHUNK:
            yield made, moves
            made, moves = [], []
    if made or moves:
        yield made, moves


LETTERS = 16  # renderings kept for readers with other settings and the same digest


def _theirs(
    base: Digest,
    papers: Sequence[Paper],
    resolved: Resolved,
    liked: Sequence[tuple[int, Paper, int]],
) -> Digest:
    """A reader's digest of these papers; ConfigError when their settings cannot be used."""
    if not papers:  # no interests to read when there is nothing to shape: start-up stays light
        return dataclasses.replace(base, papers=(), more=(), excluded=(), highlights={})
    return shaped(base, papers, _interests(resolved, tuple((p, v) for _, p, v in liked)))


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


# What a reader may change themselves (the web pages), over the readers file's values.
OWN = ("highlight", "exclude", "interests", "schedule")


def resolve(reader: Reader, settings: Settings, state: ReaderState | None) -> Resolved:
    """What a run uses for a reader: the readers file over the DIGEST_* settings, and what
    they changed themselves (kept in the state) over both. Unsubscribed counts as paused."""
    from digest import readers

    resolved = readers.effective(reader, settings)
    chose = theirs(state)
    return dataclasses.replace(resolved, **chose) if chose else resolved  # type: ignore[arg-type]


def theirs(state: ReaderState | None) -> dict[str, str | bool]:
    """What a reader chose themselves and wins over the readers file: the values of OWN they
    set, and `paused` when they paused, resumed or unsubscribed."""
    prefs = state.prefs if state is not None else {}
    if not prefs:
        return {}
    chose: dict[str, str | bool] = {k: str(prefs[k]) for k in OWN if isinstance(prefs.get(k), str)}
    if "paused" in prefs or prefs.get("unsubscribed"):
        chose["paused"] = bool(prefs.get("paused")) or bool(prefs.get("unsubscribed"))
    return chose


def shaped(base: Digest, papers: Sequence[Paper], wants: Interests) -> Digest:
    """The run's digest made a reader's: their new papers, shaped by their interests."""
    from digest import interests

    chosen = interests.select(papers, wants)
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


def _letter(
    digest: Digest, settings: Settings, form: str, needs: Set[str], fragments: Fragments
) -> Letter:
    """A digest rendered once for every reader it is for: no To header, stand-ins for the
    Message-ID and the token."""
    from digest.envelope import Marks, held

    marks = Marks.new()
    options = mail_options(settings, unsubscribe=marks.unsubscribe(settings.unsubscribe), form=form)
    message_id = marks.message_id(_domain(settings))
    item = outgoing(
        digest, settings, needs=needs, options=options, message_id=message_id, fragments=fragments
    )
    return Letter(digest, item, marks, held(item.eml, marks.token), form)


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
        return envelope.addressed(letter.item, marks, to=to, ident=ident, token=token)
    # An encoding split a stand-in: this reader's message is rendered whole.
    link = settings.unsubscribe.replace("{token}", token)
    options = mail_options(settings, unsubscribe=link, recipients=to, form=letter.format)
    message_id = f"<{ident}@{_domain(settings)}>"
    return outgoing(letter.digest, settings, needs=needs, options=options, message_id=message_id)


def _interests(resolved: Resolved, likes: tuple[tuple[Paper, int], ...] = ()) -> Interests:
    from digest.interests import Interests
    from digest.patterns import terms

    return Interests(
        highlight=terms(resolved.highlight, "highlight"),
        exclude=terms(resolved.exclude, "exclude"),
        order=resolved.order,
        max_papers=resolved.max_papers,
        interests=resolved.interests,
        likes=likes,
        min_score=resolved.min_score,
        detail=resolved.detail,
    )
