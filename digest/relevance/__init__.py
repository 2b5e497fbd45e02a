"""How well each new paper fits a reader: their interests in their own words, and the papers
they liked (+1) or disliked (-1). Pure: papers and a Profile in, a Ranking out.

The interests are scored by the model chosen:
- "lexical": TF-IDF over title, abstract, keywords and authors (numpy only, always there),
  the interests as the query;
- "embedding": WordLlama sentence embeddings (the optional extra `digest[relevance]`);
- "hybrid": the mean of both.
The likes are always scored lexically: the cosine with their mean (Rocchio) or, from
LINEAR_MIN likes on, with a per-reader logistic regression of the likes against the other
papers (arxiv-sanity); less half the closeness to the nearest disliked paper.
"auto" is "hybrid" for a reader with interests and no likes when the extra is installed, else
"lexical": measured by benchmarks/relevance.py, embeddings help interests alone and hurt once
there are likes.

A score is 0 to 1: the interests' score plus the likes', cosine similarities, near 0 for a
paper that shares nothing with them. Each paper gets a short reason a reader can check: the
words of their interests it matched, or the liked paper it is closest to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from digest.models import Paper
from digest.relevance.lexical import Idf, centroid, cosine, linear
from digest.relevance.words import paper_text, terms, words

__all__ = ["LINEAR_MIN", "MODELS", "Profile", "Ranking", "choose", "rank"]

MODELS = ("auto", "lexical", "embedding", "hybrid")
LINEAR_MIN = 5  # likes from which a per-reader linear model is fitted
_SHOWN_TERMS = 3
_DISLIKE = 0.5  # how much closeness to a disliked paper takes off


@dataclass(frozen=True, slots=True)
class Profile:
    """A reader's interests in words, and the papers they liked (+1) or disliked (-1)."""

    interests: str = ""
    likes: tuple[tuple[Paper, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Ranking:
    """Each paper's score (0 to 1) and the reason for it; `model` says which one scored."""

    scores: dict[Paper, float] = field(default_factory=dict)
    reasons: dict[Paper, str] = field(default_factory=dict)
    model: str = "lexical"

    def order(self, papers: Iterable[Paper]) -> list[Paper]:
        """`papers` most relevant first; ties keep their order."""
        return sorted(papers, key=lambda p: -self.scores.get(p, 0.0))


def choose(model: str = "auto", likes: bool = False) -> str:
    """The model `auto` stands for: hybrid with the embedding extra installed, for a reader
    without likes; lexical otherwise."""
    if model != "auto":
        return model
    from digest.relevance import embedding

    return "hybrid" if not likes and embedding.available() else "lexical"


@dataclass(frozen=True, slots=True)
class _Likes:
    """How close each paper is to what the reader liked, less what they disliked, and the
    liked paper it is nearest to."""

    score: list[float]
    nearest: list[Paper | None]


def rank(
    papers: Sequence[Paper],
    profile: Profile,
    corpus: Iterable[str] = (),
    *,
    model: str = "auto",
    linear_min: int = LINEAR_MIN,
) -> Ranking:
    """Score `papers` against `profile`. TF-IDF is fitted on `corpus` (texts: the catalogue's,
    say) and the papers themselves; `model` is one of MODELS. The interests are scored by the
    model, the likes always lexically (embeddings did worse with likes, see the benchmark)."""
    model = choose(model, bool(profile.likes))
    if model not in MODELS[1:]:
        raise ValueError(f"unknown relevance model {model!r}")
    papers = list(papers)
    if not papers:
        return Ranking(model=model)
    texts = [paper_text(p) for p in papers]
    liked = [p for p, v in profile.likes if v > 0]
    disliked = [p for p, v in profile.likes if v < 0]
    documents = [terms(t) for t in texts]
    liked_docs = [terms(paper_text(p)) for p in liked]
    disliked_docs = [terms(paper_text(p)) for p in disliked]
    idf = Idf.fit([*(terms(t) for t in corpus), *documents, *liked_docs, *disliked_docs])
    vectors = [idf.vector(d) for d in documents]
    interest: list[list[float]] = []
    if model in ("lexical", "hybrid"):
        query = idf.vector(terms(profile.interests))
        interest.append([cosine(query, v) for v in vectors])
    if model in ("embedding", "hybrid"):
        interest.append(_embedded(papers, profile.interests))
    likes = _likes(
        vectors,
        liked,
        [idf.vector(d) for d in liked_docs],
        [idf.vector(d) for d in disliked_docs],
        linear_min,
    )
    scores: dict[Paper, float] = {}
    reasons: dict[Paper, str] = {}
    phrases = _phrases(profile.interests)
    for i, paper in enumerate(papers):
        near = sum(part[i] for part in interest) / len(interest)
        like = likes.score[i]
        scores[paper] = round(max(0.0, min(1.0, near + like)), 4)
        reasons[paper] = _reason(vectors[i], idf, phrases, near, like, likes.nearest[i])
    return Ranking(scores, reasons, model)


def _likes(
    vectors: list[dict[str, float]],
    liked: list[Paper],
    pos: list[dict[str, float]],
    neg: list[dict[str, float]],
    linear_min: int,
) -> _Likes:
    score = [0.0] * len(vectors)
    nearest: list[Paper | None] = [None] * len(vectors)
    if not (pos or neg):
        return _Likes(score, nearest)
    # Few likes: their mean (Rocchio); enough of them: a linear model of the likes against the
    # dislikes and every other paper of the run, which learns which of their words matter.
    if len(pos) >= linear_min:
        direction = centroid([linear(pos, [*neg, *vectors])])
    else:
        direction = centroid(pos)
    for i, v in enumerate(vectors):
        close = [cosine(v, p) for p in pos]
        if close:
            nearest[i] = liked[close.index(max(close))]
        away = max((cosine(v, n) for n in neg), default=0.0)
        score[i] = cosine(v, direction) - _DISLIKE * away
    return _Likes(score, nearest)


def _embedded(papers: list[Paper], interests: str) -> list[float]:
    from digest.relevance import embedding

    if not interests.strip():
        return [0.0] * len(papers)
    # Without the authors: names are noise to a model of word meanings (measured: nDCG@10
    # 0.43 with them, 0.51 without, on the real days).
    texts = ["\n".join((p.title, p.title, p.abstract, *p.ai_keywords)) for p in papers]
    vectors = embedding.embed(texts)
    query = embedding.embed([interests])[0]
    return [max(0.0, float(x)) for x in vectors @ query]


def _phrases(interests: str) -> list[list[tuple[str, str]]]:
    """The interests' phrases (split at commas, semicolons and line ends), as their words."""
    import re

    return [list(words(part)) for part in re.split(r"[,;\n]+", interests) if part.strip()]


def _reason(
    vector: dict[str, float],
    idf: Idf,
    phrases: list[list[tuple[str, str]]],
    interest: float,
    like: float,
    nearest: Paper | None,
) -> str:
    if nearest is not None and like > interest:
        return f"like: {nearest.title}"
    # One word a stem, as first written: "grasp, grasping" is one match, shown once.
    matched: dict[str, tuple[str, float]] = {}
    for phrase in phrases:
        for stem, word in phrase:
            if stem in vector:
                matched.setdefault(stem, (word, idf.weight(stem)))
    if matched:
        best = sorted(matched.values(), key=lambda m: -m[1])[:_SHOWN_TERMS]
        return "matches: " + ", ".join(word for word, _ in best)
    if interest > 0:
        return "close to your interests"
    return "no match"
