"""The values that flow through digest: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from digest.patterns import Term


# DIGEST_SUBJECT's default; {matches} is " · 5 match diffusion, speech", or nothing.
DEFAULT_SUBJECT = "Daily papers: {count} new{matches} ({date})"


def subject_line(template: str, count: int, date: str, matches: str = "") -> str:
    """The subject from a DIGEST_SUBJECT template, on one line whatever the date says."""
    return " ".join(template.format(count=count, date=date, matches=matches).split())


@dataclass(frozen=True, slots=True)
class Paper:
    """One listed paper, as read from a dump."""

    title: str
    abstract: str
    source: str = ""  # file name of the dump it was read from
    listing_date: str | None = None  # as the listing gives it, e.g. "Mar 12"
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()
    upvotes: int | None = None
    page_url: str | None = None  # the paper's page on Hugging Face
    code_url: str | None = None
    project_url: str | None = None
    published: str | None = None  # ISO date the paper was published, e.g. "2025-03-11"
    comments: int | None = None
    ai_summary: str | None = None  # the listing's one-line TL;DR
    ai_keywords: tuple[str, ...] = ()
    organization: str | None = None  # the lab or company it was submitted for
    github_stars: int | None = None
    listed: str | None = None  # ISO day it was listed, when the source gives the year

    def __hash__(self) -> int:
        # Papers are the keys of a digest's maps, looked up thousands of times a run: hashed
        # by their title (a string keeps its hash), not by every field; equal papers have
        # equal titles, so they still hash alike.
        return hash(self.title)

    @property
    def link(self) -> str:
        """Where to find the paper: its arXiv page when known, else an arXiv title search."""
        from urllib.parse import quote_plus

        if self.arxiv_id:
            return f"https://arxiv.org/abs/{self.arxiv_id}"
        return "https://arxiv.org/search/?searchtype=title&query=" + quote_plus(self.title)

    @property
    def arxiv_url(self) -> str | None:
        """The paper's arXiv page, when its identifier is known."""
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None


@dataclass(frozen=True, slots=True)
class Dump:
    """One inbox file, parsed."""

    name: str
    sha256: str
    papers: tuple[Paper, ...]
    listing_date: str | None = None  # as the listing gives it, e.g. "Mar 12"
    encoding: str = "utf-8"
    format: str = "text"
    warnings: tuple[str, ...] = ()  # what was skipped inside the file, one line each
    listed: str | None = None  # ISO day of the listing, when the source gives the year


@dataclass(frozen=True, slots=True)
class Rejected:
    """An inbox file that could not be read, and why."""

    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class SeenPaper:
    """A paper already in the store: shown in an earlier digest, or about to be."""

    id: int
    title: str
    first_seen: datetime
    first_dump: str
    arxiv_ids: tuple[str, ...] = ()  # its arXiv ids (normally one), without version


@dataclass(frozen=True, slots=True)
class StoredPaper:
    """A paper in the store with the title and abstract it is compared by."""

    seen: SeenPaper
    title: str
    abstract: str


@dataclass(frozen=True, slots=True)
class Skip:
    """A paper left out of the digest, with the reason it was left out."""

    paper: Paper
    matched: SeenPaper | None  # None when it repeats a paper earlier in this same run
    rule: str
    score: float = 100.0
    revised: bool = False  # the same paper, listed again with a changed abstract
    repeats: Paper | None = None  # the paper of this same run it repeats, when matched is None


@dataclass(frozen=True, slots=True)
class Stats:
    """The figures a digest's header summarises."""

    dumps: int
    listed: int
    new: int
    seen_before: int
    repeated: int
    rejected: int
    excluded: int = 0  # new papers left out by the reader's exclusions
    low_scored: int = 0  # new papers listed compactly for a score under DIGEST_MIN_SCORE


@dataclass(frozen=True, slots=True)
class Digest:
    """What one run shows: the new papers, plus what was skipped or rejected and why.

    `papers` are shown in full, `more` only by title and link (past DIGEST_MAX_PAPERS);
    `excluded` are new papers the reader asked not to see: left out, but recorded with it.
    """

    papers: tuple[Paper, ...]
    skipped: tuple[Skip, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    dumps: tuple[Dump, ...] = ()
    created: datetime = field(default_factory=lambda: datetime.now().astimezone())
    updated: tuple[Skip, ...] = ()  # seen before, abstract changed: shown when asked for
    more: tuple[Paper, ...] = ()
    excluded: tuple[Paper, ...] = ()
    highlights: Mapping[Paper, tuple[str, ...]] = field(default_factory=dict)  # terms matched
    highlight: tuple[Term, ...] = ()  # the reader's words, to mark where they occur
    # Why a paper is where it is, in a few words a reader can check ("matches: kv cache",
    # "like: <a paper they liked>"), and its relevance score, for the papers that have one.
    reasons: Mapping[Paper, str] = field(default_factory=dict)
    scores: Mapping[Paper, float] = field(default_factory=dict)
    low_scored: tuple[Paper, ...] = ()  # those of `more` there for a score under the minimum
    # DIGEST_DETAIL: "compact" (the top papers with their TL;DR, the rest a line each) or
    # "full" (every paper with its abstract).
    detail: str = "compact"
    stats: Stats = field(init=False, repr=False, compare=False)  # counts for header and JSON

    @property
    def new_papers(self) -> tuple[Paper, ...]:
        """Every new paper of the run: shown in full, listed compactly, or excluded."""
        return self.papers + self.more + self.excluded

    def __post_init__(self) -> None:
        # Counted once: every format and the mail's size planner read them.
        repeated = sum(1 for s in self.skipped if s.matched is None)
        stats = Stats(
            dumps=len(self.dumps),
            listed=sum(len(d.papers) for d in self.dumps),
            new=len(self.papers) + len(self.more),
            seen_before=len(self.skipped) - repeated,
            repeated=repeated,
            rejected=len(self.rejected),
            excluded=len(self.excluded),
            low_scored=len(self.low_scored),
        )
        object.__setattr__(self, "stats", stats)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Similarity scores (0-100, rapidfuzz ratio of normalised text) the fuzzy rule needs."""

    title: int = 85  # titles alike enough, when the abstracts also agree
    revised: int = 80  # abstracts alike enough to be one paper revised, with a similar title
    abstract: int = 95  # abstracts alike enough to be one paper whatever the titles say
    title_only: int = 92  # titles alike enough when either side has no abstract


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A rendered digest in the outbox, exactly as it will be (or was) delivered: its
    renderings by format name (digest.outputs), those its deliverer needs, and its mail
    message; `eml` is None when it was made without one."""

    id: int
    created: datetime
    status: str
    message_id: str
    subject: str
    paper_count: int
    parts: Mapping[str, str]  # format name -> the digest rendered in it
    eml: bytes | None = None
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    next_attempt: datetime | None = None
    delivery_note: str | None = None  # what the last delivery did, refused recipients included
    reader: int | None = None  # the reader it is for (the state's reader id)
    after: int | None = None  # the catalogue positions it covers: after < position <= upto
    upto: int | None = None
    shared: Shared | None = None  # how it was made from a rendering shared by readers
    # The reader's address in its one form ("" for DIGEST_TO's), as a run makes it: a dry
    # run's preview is named by it. Not kept in the outbox (`reader` is).
    reader_key: str | None = None

    def part(self, fmt: str) -> str:
        """The digest rendered in `fmt`; empty when it was not made (not needed)."""
        return self.parts.get(fmt, "")


@dataclass(frozen=True, slots=True)
class Shared:
    """A reader's message made from a rendering shared by every reader who gets the same
    digest (digest.envelope): the rendering (stand-ins for what is each reader's own, no To
    header), its stand-ins, and what was put in for this reader. The outbox keeps the
    rendering once, and each reader's message as these few bytes beside it."""

    letter: Outgoing
    marks: tuple[str, str]  # the stand-ins: of the token, of the Message-ID's left part
    to: bytes  # the reader's To header, put first (b"" for none)
    token: str
    ident: str  # their Message-ID's left part
    base: Base | None = None  # the run's base rendering, that the outbox compresses it against


@dataclass(frozen=True, slots=True)
class Base:
    """A run's base rendering: every new paper of the run in every format, stored once a run,
    that the outbox compresses each rendering of the run against (a reader's digest repeats
    it, in their order), by a key unique to it."""

    key: str
    parts: Mapping[str, str]
    eml: bytes | None


@dataclass(frozen=True, slots=True)
class ReaderState:
    """What the state keeps of one reader: how far through the catalogue their digests go.

    Papers are numbered in the order they were first offered (their position); every paper
    up to `upto` is in a digest made for this reader (shown, excluded or past their cap), so
    what is new to them is the positions after it: one number a reader, however many papers."""

    id: int
    key: str  # their address in its one form (readers.address_key); "" for DIGEST_TO's reader
    upto: int
    added: datetime
    token: str | None = None  # what their unsubscribe and preferences links carry
    # What they changed themselves (the web pages): paused, unsubscribed, highlight, exclude,
    # interests, schedule; over the readers file's values.
    prefs: Mapping[str, object] = field(default_factory=dict)
