"""Shape a digest to its reader: leave out what they exclude, put what they highlight first
(or what fits their interests and likes best), order the rest, and cap how many papers are
shown in full.

Pure: the new papers and the reader's interests in, a Selection out. Knows nothing of
settings: the pipeline builds the Interests from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from digest.models import Paper
from digest.patterns import Term

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.relevance import Catalogue


@dataclass(frozen=True, slots=True)
class Interests:
    """What the reader wants: terms to highlight or exclude, an order, a cap (0: none); their
    interests in their own words and the papers they liked (+1) or disliked (-1), which score
    every paper; papers scored under `min_score` are only listed compactly."""

    highlight: tuple[Term, ...] = ()
    exclude: tuple[Term, ...] = ()
    order: str = ""  # empty: "relevance" when the reader has interests or likes, else "highlights"
    max_papers: int = 0
    interests: str = ""
    likes: tuple[tuple[Paper, int], ...] = ()
    min_score: float = 0.0
    model: str = "auto"  # which relevance model scores, see digest.relevance
    detail: str = "compact"  # DIGEST_DETAIL: "full" puts the abstracts in the mail

    @property
    def scored(self) -> bool:
        """Whether papers get a relevance score: the reader has interests or likes."""
        return bool(self.interests.strip() or self.likes)


@dataclass(frozen=True, slots=True)
class Selection:
    """The new papers, split: shown in full, listed compactly past the cap or under the
    minimum score (`low`, also in `more`), or excluded; with each paper's score and reason
    when the reader has interests or likes."""

    full: tuple[Paper, ...]
    more: tuple[Paper, ...] = ()
    excluded: tuple[Paper, ...] = ()
    highlights: dict[Paper, tuple[str, ...]] = field(default_factory=dict)
    scores: dict[Paper, float] = field(default_factory=dict)
    reasons: dict[Paper, str] = field(default_factory=dict)
    low: tuple[Paper, ...] = ()


def searched(paper: Paper) -> str:
    """The text a paper's terms are looked for in: title, abstract, authors, keywords."""
    return "\n".join((paper.title, paper.abstract, *paper.authors, *paper.ai_keywords))


def matching(terms: Iterable[Term], paper: Paper) -> tuple[str, ...]:
    """The terms (as written) that occur in a paper."""
    return tuple(t.text for t in terms if _occurs(t, paper))


@lru_cache(maxsize=8192)  # a run's words times its papers; each entry keeps its paper
def _occurs(term: Term, paper: Paper) -> bool:
    """Whether a term occurs in a paper: looked for once, however many readers share the
    term (a term is its text, compiled alike each time)."""
    return term.found(searched(paper))


def select(
    papers: Iterable[Paper], wants: Interests, catalogue: Catalogue | None = None
) -> Selection:
    """Split and order the new papers by the reader's interests; relevance is weighed by the
    term statistics of `catalogue` (the papers seen), or of the papers alone without one."""
    kept: list[Paper] = []
    excluded: list[Paper] = []
    highlights: dict[Paper, tuple[str, ...]] = {}
    for paper in papers:
        if matching(wants.exclude, paper):
            excluded.append(paper)
            continue
        kept.append(paper)
        found = matching(wants.highlight, paper)
        if found:
            highlights[paper] = found
    scores: dict[Paper, float] = {}
    reasons: dict[Paper, str] = {}
    ranked = kept
    if wants.scored and kept:  # only then is the relevance model loaded
        from digest.relevance import Profile, rank

        profile = Profile(wants.interests, wants.likes)
        ranking = rank(kept, profile, catalogue, model=wants.model)
        scores, ranked = ranking.scores, ranking.order(kept)
        # A match is a paper with a reason they can check, at their threshold or above.
        reasons = {p: why for p, why in ranking.reasons.items() if scores[p] >= wants.min_score}
    order = wants.order or ("relevance" if wants.scored else "highlights")
    # sorted() is stable: papers that tie keep their listing order.
    if order == "highlights":
        kept.sort(key=lambda p: p not in highlights)
    elif order == "upvotes":
        kept.sort(key=lambda p: (p.upvotes is None, -(p.upvotes or 0)))
    elif order == "relevance":
        kept = list(ranked)
    # Under the minimum score: listed compactly after the rest, counted, never dropped.
    low = [p for p in kept if scores and scores[p] < wants.min_score]
    if low:
        kept = [p for p in kept if scores[p] >= wants.min_score]
    cap = wants.max_papers or len(kept)
    return Selection(
        tuple(kept[:cap]),
        tuple(kept[cap:] + low),
        tuple(excluded),
        highlights,
        scores,
        reasons,
        tuple(low),
    )
