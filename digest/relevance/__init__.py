"""How well each new paper fits a reader: their interests in their own words, and the papers
they liked (+1) or disliked (-1). Pure: papers, a Profile and the Catalogue in, a Ranking out.

Term statistics come from the catalogue (every paper seen, or its latest ones), never from
the run's papers alone: a word most papers share ("models", "learning") weighs little however
few papers a run has. Each signal is put on one scale before they are added (standardised over
the run's papers), so no signal decides the order by its spread alone:
- the interests: the TF-IDF cosine of the reader's words with each paper, the query widened by
  the catalogue papers that fit it best (pseudo-relevance feedback), and with the optional
  embedding extra installed (`digest[relevance]`, model "hybrid", what "auto" is for a reader
  without likes), the cosine of their embeddings;
- the likes: the direction of the liked papers less the catalogue's mean on their words (what
  they say more than papers do: the catalogue is the "not liked" side, as in arxiv-sanity-lite's
  SVM, which measured behind it), less the disliked papers' direction and half the closeness
  to the nearest disliked paper.
Measured by benchmarks/relevance.py beside its peers' methods.

A paper's score (0 to 1) is the mean of its signals, each weighed by its weight over its
spread: it orders the papers as the sum of the standardised signals does, and stays a
closeness a reader can set DIGEST_MIN_SCORE by. Its reason names only distinctive words of the
interests it contains (none in more than a tenth of the catalogue), or the liked paper it
stands out as close to; a paper without one is no match.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from digest.models import Paper
from digest.relevance.lexical import Idf, Space
from digest.relevance.words import paper_text, terms, words

__all__ = ["COMMON", "MATCH", "MODELS", "Catalogue", "Profile", "Ranking", "choose", "rank"]

MODELS = ("auto", "lexical", "embedding", "hybrid")
COMMON = 0.1  # a term in more than this share of the catalogue is no reason
MATCH = 0.05  # the least closeness to a liked paper that is a reason
RECENT = 2000  # latest catalogue papers the likes are learned against
_SHOWN_TERMS = 3
_FEEDBACK = 5  # catalogue papers that widen the interests' words
_DISLIKE = 0.5  # how much closeness to a disliked paper takes off
_WIDEN = 1.0  # how much the fitting papers' words count beside the interests' own
_WORDS = 50  # the fitting papers' words that widen them: the strongest only, less noise
_AWAY = 0.5  # how much of the catalogue's mean is taken off the likes' mean
_MEANING = 0.3  # the embedding's weight beside the words' (model "hybrid")
_LIKES = 5.0  # the likes' weight beside the interests'


@dataclass(frozen=True, slots=True)
class Profile:
    """A reader's interests in words, and the papers they liked (+1) or disliked (-1)."""

    interests: str = ""
    likes: tuple[tuple[Paper, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Term statistics of the papers seen, and the TF-IDF vectors of the latest of them (the
    "not liked" side of a reader's likes, and where the interests' words are widened from):
    made once a run, shared by every reader."""

    idf: Idf
    space: Space
    recent: Any  # a sparse matrix, a row a paper
    mean: Any  # the unit mean of its rows, a sparse row

    @classmethod
    def of(cls, papers: Iterable[Paper], recent: int = RECENT) -> Catalogue:
        """The catalogue of these papers, oldest first. Their terms are found as they are
        counted and not kept (nor cached, unlike a ranked paper's): memory holds the counts
        and the latest papers' vectors, not thousands of papers' words."""
        latest: deque[tuple[str, ...]] = deque(maxlen=recent)

        def counted() -> Iterator[tuple[str, ...]]:
            for paper in papers:
                document = terms.__wrapped__(paper_text(paper))
                latest.append(document)
                yield document

        idf = Idf.fit(counted())
        space = Space.of(idf)
        vectors = space.matrix(list(latest), {}, keep=False)
        return cls(idf, space, vectors, _unit(vectors.sum(axis=0)))

    def common(self, term: str) -> bool:
        """Whether a term is in more than a tenth of the catalogue (and in more than two
        papers): no reason to show."""
        return self.idf.df.get(term, 0) > max(COMMON * self.idf.n, 2)


@dataclass(frozen=True, slots=True)
class Ranking:
    """Each paper's score (0 to 1), the reason for it and its place; `model` says which
    model scored the interests."""

    scores: dict[Paper, float] = field(default_factory=dict)
    reasons: dict[Paper, str] = field(default_factory=dict)
    model: str = "lexical"
    keys: dict[Paper, float] = field(default_factory=dict)  # higher first

    def order(self, papers: Iterable[Paper]) -> list[Paper]:
        """`papers` most relevant first; ties keep their order."""
        keys = self.keys or self.scores
        return sorted(papers, key=lambda p: -keys.get(p, -math.inf))


def choose(model: str = "auto", likes: bool = False) -> str:
    """The model `auto` stands for: hybrid for a reader without likes when the embedding
    extra is installed, else lexical. Measured (benchmarks/relevance.py), the embedding adds
    a little for interests in a reader's own words, nothing once there are likes."""
    if model != "auto":
        return model
    from digest.relevance import embedding

    return "hybrid" if not likes and embedding.available() else "lexical"


def rank(
    papers: Sequence[Paper],
    profile: Profile,
    catalogue: Catalogue | None = None,
    *,
    model: str = "auto",
) -> Ranking:
    """Score and order `papers` for `profile`, term statistics from `catalogue` (the papers
    themselves without one); `model` is one of MODELS."""
    import numpy as np

    model = choose(model, bool(profile.likes))
    if model not in MODELS[1:]:
        raise ValueError(f"unknown relevance model {model!r}")
    papers = list(papers)
    if not papers:
        return Ranking(model=model)
    catalogue = catalogue or Catalogue.of(papers, recent=0)
    documents = [terms(paper_text(p)) for p in papers]
    liked = [p for p, v in profile.likes if v > 0]
    pos = [terms(paper_text(p)) for p in liked]
    neg = [terms(paper_text(p)) for p, v in profile.likes if v < 0]
    query = terms(profile.interests)
    space, extra = catalogue.space, dict[str, int]()
    space.columns([*documents, *pos, *neg, query], extra)
    x = space.matrix(documents, extra)
    width = x.shape[1]
    signals: list[tuple[float, Any]] = []  # (weight, values): each put on one scale below
    near = np.zeros(len(papers))
    if query:
        q = space.matrix([query], extra)
        near = _dense(x @ q.T)
        if model in ("lexical", "hybrid"):
            wide = _widened(q, x, _wider(catalogue.recent, width))
            signals.append((1.0, _dense(x @ wide.T)))
        if model in ("embedding", "hybrid"):
            signals.append((_MEANING, np.array(_embedded(papers, profile.interests))))
    close = np.zeros(len(papers))
    nearest: list[Paper | None] = [None] * len(papers)
    if pos or neg:
        likes, dislikes = space.matrix(pos, extra), space.matrix(neg, extra)
        mean = _wider(catalogue.mean, width) if catalogue.recent.shape[0] else _unit(x.sum(0))
        liked_sum = likes.sum(axis=0)
        # The catalogue's mean taken off the likes' own terms: what they say more than papers do.
        away = mean.multiply(liked_sum != 0)
        direction = _unit(liked_sum) - _AWAY * away - _unit(dislikes.sum(axis=0))
        learned = _dense(x @ direction.T)
        if neg:
            learned -= _DISLIKE * (x @ dislikes.T).toarray().max(axis=1)
        signals.append((_LIKES, learned))
        if pos:
            each = (x @ likes.T).toarray()
            close = each.max(axis=1)
            nearest = [liked[i] for i in each.argmax(axis=1)]
    keys = _combined(signals, near)
    # A liked paper is a reason for the papers that stand out as close to it: one standard
    # deviation above the others' mean, and a closeness of MATCH at least.
    standout = max(MATCH, float(close.mean() + close.std()))
    close = np.where(close >= standout, close, 0.0)
    phrases = _phrases(profile.interests)
    scores: dict[Paper, float] = {}
    reasons: dict[Paper, str] = {}
    for i, paper in enumerate(papers):
        scores[paper] = round(max(0.0, min(1.0, float(keys[i]))), 4)
        why = _reason(set(documents[i]), catalogue, phrases, near[i], close[i], nearest[i])
        if why:
            reasons[paper] = why
    return Ranking(scores, reasons, model, dict(zip(papers, map(float, keys), strict=True)))


def _dense(column: Any) -> Any:
    """A sparse or dense n-by-1 product as a flat array."""
    import numpy as np

    return np.asarray(column.todense() if hasattr(column, "todense") else column).ravel()


def _unit(row: Any) -> Any:
    """A row (dense or sparse) scaled to unit length, as a sparse row."""
    from scipy.sparse import csr_matrix

    row = csr_matrix(row)
    norm = math.sqrt(float(row.multiply(row).sum())) if row.nnz else 0.0
    return row / norm if norm else row


def _wider(matrix: Any, width: int) -> Any:
    """A sparse matrix with more columns (a run's own terms), all empty."""
    from scipy.sparse import csr_matrix

    m = csr_matrix(matrix)
    return csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], width))


def _combined(signals: list[tuple[float, Any]], alone: Any) -> Any:
    """The signals added on one scale: each divided by its standard deviation over the papers
    (then weighed), so that none decides the order by its spread alone. As a weighted mean of
    the signals themselves, it stays a closeness of 0 to 1 that a threshold can be set on,
    and orders the papers as the sum of their standardised values would. `alone` without."""
    total, weights = 0.0, 0.0
    for weight, values in signals:
        sd = float(values.std())
        if sd > 0:  # from the least: a signal below 0 (the likes') still adds from 0 up
            total = total + (values - min(0.0, float(values.min()))) * (weight / sd)
            weights += weight / sd
    return total / weights if weights else alone


def _widened(query: Any, papers: Any, recent: Any) -> Any:
    """The interests' words with the strongest words of the papers that fit them best (the
    run's and the catalogue's latest), as much again: "trial and error with rewards" finds the
    papers that say so, and learns that they also say "reinforcement"."""
    import numpy as np
    from scipy.sparse import vstack

    fit = np.concatenate([_dense(papers @ query.T), _dense(recent @ query.T)])
    best = [int(i) for i in np.argsort(-fit, kind="stable")[:_FEEDBACK] if fit[i] > 0]
    if not best:
        return query
    n = papers.shape[0]
    rows = [papers[i] if i < n else recent[i - n] for i in best]
    return _unit(query + _WIDEN * _strongest(_unit(vstack(rows).sum(axis=0)), _WORDS))


def _strongest(row: Any, most: int) -> Any:
    """A sparse row with only its `most` largest weights, of unit length again."""
    import numpy as np
    from scipy.sparse import csr_matrix

    if row.nnz <= most:
        return row
    keep = np.argsort(-row.data, kind="stable")[:most]
    where = (np.zeros(most, dtype=np.int64), row.indices[keep])
    return _unit(csr_matrix((row.data[keep], where), shape=row.shape))


def _embedded(papers: list[Paper], interests: str) -> list[float]:
    from digest.relevance import embedding

    # Without the authors: names are noise to a model of word meanings (measured).
    texts = ["\n".join((p.title, p.title, p.abstract, *p.ai_keywords)) for p in papers]
    vectors = embedding.embed(texts)
    query = embedding.embed([interests])[0]
    return [float(x) for x in vectors @ query]


def _phrases(interests: str) -> list[list[tuple[str, str]]]:
    """The interests' phrases (split at commas, semicolons and line ends), as their words."""
    return [list(words(part)) for part in re.split(r"[,;\n]+", interests) if part.strip()]


def _reason(
    vector: set[str],
    catalogue: Catalogue,
    phrases: list[list[tuple[str, str]]],
    interest: float,
    like: float,
    nearest: Paper | None,
) -> str:
    if nearest is not None and like > 0 and like >= interest:
        return f"like: {nearest.title}"
    # One word a stem, as first written: "grasp, grasping" is one match, shown once; a word
    # most papers share is no reason.
    matched: dict[str, tuple[str, float]] = {}
    for phrase in phrases:
        for stem, word in phrase:
            if stem in vector and not catalogue.common(stem):
                matched.setdefault(stem, (word, catalogue.idf.weight(stem)))
    if matched:
        best = sorted(matched.values(), key=lambda m: -m[1])[:_SHOWN_TERMS]
        return "matches: " + ", ".join(word for word, _ in best)
    return ""
