"""TF-IDF: a text as the weights of its terms, rare terms weighing more, fitted on a corpus.

Vectors are sparse (a dict of term to weight) and of unit length, so a dot product is their
cosine. A digest scores tens of papers and a catalogue holds thousands: only the document
frequencies of the corpus are kept, never its vectors.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Vector = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Idf:
    """Document frequencies of the corpus a model is fitted on."""

    df: Mapping[str, int]
    n: int

    @classmethod
    def fit(cls, documents: Iterable[Sequence[str]]) -> Idf:
        """Count in how many of `documents` (each as its terms) each term occurs."""
        df: Counter[str] = Counter()
        n = 0
        for document in documents:
            df.update(set(document))
            n += 1
        return cls(df, n)

    def weight(self, term: str) -> float:
        """Smoothed inverse document frequency: a term the corpus never saw weighs most."""
        return math.log((1 + self.n) / (1 + self.df.get(term, 0))) + 1.0

    def vector(self, document: Sequence[str]) -> dict[str, float]:
        """The unit TF-IDF vector of a document (as its terms), frequencies damped by a log."""
        counts = Counter(document)
        weights = {t: (1.0 + math.log(c)) * self.weight(t) for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {t: w / norm for t, w in weights.items()}


def cosine(a: Vector, b: Vector) -> float:
    """The cosine of two unit vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def centroid(vectors: Sequence[Vector]) -> dict[str, float]:
    """The unit mean of `vectors` (empty for none)."""
    total: Counter[str] = Counter()
    for v in vectors:
        total.update(v)
    norm = math.sqrt(sum(w * w for w in total.values())) or 1.0
    return {t: w / norm for t, w in total.items()}


def linear(
    positive: Sequence[Vector],
    negative: Sequence[Vector],
    *,
    strength: float = 1.0,
    steps: int = 200,
) -> dict[str, float]:
    """A logistic regression separating `positive` from `negative` vectors, as its weights by
    term (the bias is left out: only the order it gives matters), arxiv-sanity style: the
    reader's likes against everything else. Classes are weighted to count alike, with L2
    regularisation `strength`; fitted by gradient descent in numpy."""
    import numpy as np

    # Only the likes' terms are features: the others would all weigh 0 or against.
    vocab = sorted({t for v in positive for t in v})
    index = {t: i for i, t in enumerate(vocab)}
    rows = [*positive, *negative]
    x = np.zeros((len(rows), len(vocab)))
    for r, v in enumerate(rows):
        for t, weight in v.items():
            if t in index:
                x[r, index[t]] = weight
    y = np.array([1.0] * len(positive) + [0.0] * len(negative))
    sample = np.where(y == 1.0, 0.5 / max(len(positive), 1), 0.5 / max(len(negative), 1))
    w = np.zeros(len(vocab))
    b = 0.0
    rate = 2.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        error = (p - y) * sample
        w -= rate * (x.T @ error + strength * w / len(rows))
        b -= rate * float(error.sum())
    return {t: float(w[i]) for t, i in index.items() if w[i] != 0.0}
