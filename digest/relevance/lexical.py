"""TF-IDF: a text as the weights of its terms, rare terms weighing more, fitted on a corpus.

Vectors are of unit length, so a dot product is their cosine: as a dict of term to weight
for one text, or as the rows of a sparse matrix (scipy) whose columns are the terms of a
Space, for many at once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Vector = Mapping[str, float]
ROWS = 5000  # documents' vectors a space keeps
# A document's unit vector: (columns, weights) of the terms a space has, and (term, weight)
# of those it has not.
Row = tuple[tuple[Any, Any], list[tuple[str, float]]]


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


@dataclass(frozen=True, slots=True)
class Space:
    """Terms as the columns of a matrix, each weighing its IDF: the catalogue's terms first,
    then those of the texts `matrix` met that it never saw."""

    idf: Idf
    index: dict[str, int] = field(default_factory=dict)
    rows: dict[tuple[str, ...], Row] = field(default_factory=dict)  # see `row`

    @classmethod
    def of(cls, idf: Idf) -> Space:
        """The space of the terms of `idf`'s corpus."""
        return cls(idf, {t: i for i, t in enumerate(idf.df)})

    def columns(self, documents: Sequence[Sequence[str]], extra: dict[str, int]) -> None:
        """Give the terms of `documents` the space has no column for one past the others in
        `extra` (a run's own, so that the space is shared unchanged by every reader)."""
        for document in documents:
            for t, _ in self.row(tuple(document))[1]:
                if t not in extra:
                    extra[t] = len(self.index) + len(extra)

    def matrix(
        self, documents: Sequence[Sequence[str]], extra: Mapping[str, int], *, keep: bool = True
    ) -> Any:
        """The unit TF-IDF vectors of `documents` (as their terms), as the rows of a sparse
        matrix as wide as the space and `extra`; the terms neither has are left out. `keep`:
        each document's vector is kept for the next readers (see `row`)."""
        import numpy as np
        from scipy.sparse import csr_matrix

        data: list[Any] = []
        indices: list[Any] = []
        indptr = [0]
        for document in documents:
            (columns, values), unknown = self.row(tuple(document), keep=keep)
            more = [(extra[t], w) for t, w in unknown if t in extra]
            indices += [columns, np.array([i for i, _ in more], dtype=np.int64)]
            data += [values, np.array([w for _, w in more])]
            indptr.append(indptr[-1] + len(columns) + len(more))
        shape = (len(documents), len(self.index) + len(extra))
        if not documents:
            return csr_matrix(shape)
        return csr_matrix((np.concatenate(data), np.concatenate(indices), indptr), shape)

    def row(self, document: tuple[str, ...], *, keep: bool = True) -> Row:
        """A document's unit vector: the columns and weights of the terms the space has, and
        the terms it has not with theirs. Kept (unless not to `keep`): a paper ranked is
        weighed once, whatever the readers."""
        import numpy as np

        kept = self.rows.get(document)
        if kept is not None:
            return kept
        counts = Counter(document)
        weights = {t: (1.0 + math.log(c)) * self.idf.weight(t) for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        columns, values, unknown = [], [], []
        for t, w in weights.items():
            i = self.index.get(t)
            if i is None:
                unknown.append((t, w / norm))
            else:
                columns.append(i)
                values.append(w / norm)
        # As arrays: a few kilobytes a paper where lists of numbers would take tens.
        kept = ((np.array(columns, dtype=np.int64), np.array(values)), unknown)
        if keep:
            if len(self.rows) >= ROWS:
                self.rows.clear()
            self.rows[document] = kept
        return kept
