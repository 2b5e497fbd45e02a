"""The candidate index: which few stored papers a paper is compared with, and title search.

A paper is filed under its grams (title word pairs, an abstract sketch); the papers sharing
the most uncommon grams with it are its candidates. The state store keeps the postings (the
papers filed under a gram) and the titles; choosing and ranking is done here.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise

import numpy as np

from digest.identity.keys import ABSTRACT_MIN, STOPWORDS, normalise, normalise_all
from digest.models import Paper, StoredPaper

SKETCH = 6  # abstract shingles kept per paper in the candidate index
_C1, _C2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)
# An index entry shared by more papers than this says nothing about identity ("learning",
# "in this paper we"); reading it is also what would make lookups slow.
COMMON = 100


TYPE_CHECKING = False  # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import Protocol

    from digest.models import SeenPaper

    class Papers(Protocol):
        """What the index asks of the stored papers (the state's catalogue gives it)."""

        def postings(self, grams: Iterable[int], limit: int) -> dict[int, list[int]]:
            """For each gram, the ids of (at most `limit`) papers filed under it."""
            ...

        def stored(self, ids: Iterable[int]) -> dict[int, StoredPaper]:
            """The stored papers with these ids, by id."""
            ...

        def lookup(self, keys: Iterable[str]) -> dict[str, SeenPaper]:
            """The stored papers recorded under any of these identity keys."""
            ...

        def titles(self, ids: Iterable[int]) -> dict[int, str]:
            """The titles of the stored papers with these ids, by id."""
            ...

        def all_titles(self) -> Iterator[dict[int, str]]:
            """Every stored paper's title by id, a large chunk at a time."""
            ...

        def remove(self, papers: Sequence[tuple[int, Sequence[int]]]) -> None:
            """Remove these papers (by id, with their grams), their keys and index entries too."""
            ...


def _hash(text: str) -> int:
    """A stable signed 64-bit hash (Python's own str hash changes with every process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), signed=True)


_P = 0x100000001B3  # odd, so it has an inverse modulo 2**64
_POWERS: list[np.ndarray] = [np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64)]


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i modulo 2**64 for i < n (grown on demand, kept)."""
    if len(_POWERS[0]) < n:
        size = max(n, 2 * len(_POWERS[0]), 4096)
        for k, base in enumerate((_P, pow(_P, -1, 1 << 64))):
            factors = np.full(size, base, dtype=np.uint64)
            factors[0] = 1
            _POWERS[k] = np.cumprod(factors, dtype=np.uint64)  # wraps modulo 2**64
    return _POWERS[0], _POWERS[1]


def word_hashes(text: str) -> np.ndarray:
    """Stable 64-bit hashes of the words of normalised (single-spaced) text, all at once:
    a polynomial hash of each word read off prefix sums, then mixed."""
    data = np.frombuffer(text.encode(), dtype=np.uint8)
    n = len(data)
    power, inverse = _powers(n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(data.astype(np.uint64) * power[:n], out=prefix[1:])
    spaces = np.flatnonzero(data == 32)
    starts = np.concatenate(([0], spaces + 1))
    ends = np.concatenate((spaces, [n]))
    h = (prefix[ends] - prefix[starts]) * inverse[starts]
    h ^= h >> np.uint64(29)
    h *= _C1
    h ^= h >> np.uint64(32)
    hashes: np.ndarray = h
    return hashes


def grams(paper: Paper) -> tuple[int, ...]:
    """The paper's entries in the candidate index: its title's word pairs, and the `SKETCH`
    smallest hashes of its abstract's three-word shingles (a bottom-k sketch, which a lightly
    revised abstract mostly keeps)."""
    return (*title_grams(normalise(paper.title)), *abstract_grams(normalise(paper.abstract)))


def title_grams(title: str) -> list[int]:
    """Index entries of a normalised title: its pairs of neighbouring words, stop words left
    out; a short title's words too. Single words of a longer title are left out: nearly
    all are too common to tell papers apart, and they would be most of the index."""
    words = [w for w in title.split() if w not in STOPWORDS]
    # Pairs of neighbouring words stay rare where single words are common: a title of
    # common words ("Efficient Diffusion Models for Image Generation") still has a handle,
    # and a typo in one word leaves the other pairs.
    pairs = {f"p {a} {b}" for a, b in pairwise(words)}
    if len(pairs) < 3:  # a typo in a middle word breaks two pairs: a short title's words too
        pairs |= {"w " + w for w in words}
    return [_hash(entry) for entry in sorted(pairs)]


def abstract_grams(abstract: str) -> list[int]:
    """Index entries of a normalised abstract: its bottom-k sketch of word shingles."""
    if len(abstract) < ABSTRACT_MIN:
        return []
    h = word_hashes(abstract)
    # Combining word hashes (wrapping uint64 arithmetic) is far cheaper than hashing every
    # shingle's text, and as stable.
    shingles = h[:-2] * _C1 + h[1:-1] * _C2 + h[2:]
    shingles.sort()
    return list(dict.fromkeys(shingles[: SKETCH * 4].view(np.int64).tolist()))[:SKETCH]


CANDIDATES = 20  # at most this many candidates are scored per paper
RARE = 10  # an index entry shared by at most this many papers is strong evidence


def best_shared(postings: Sequence[Sequence[int]]) -> list[int]:
    """The candidates sharing the most evidence with a paper, given the papers listed under
    each of its index entries. A rare entry counts two, a commoner one one, and one point is
    not enough: a re-post keeps several entries or a rare one (a typo breaks at most two
    title pairs, a light revision one or two sketch entries), a stranger shares one common
    entry by chance."""
    shared: Counter[int] = Counter()
    for papers in postings:
        weight = 2 if len(papers) <= RARE else 1
        for paper in papers:
            shared[paper] += weight
    return [c for c, n in shared.most_common(CANDIDATES) if n >= 2]


def candidates(
    store: Papers, grams: Sequence[Sequence[int]], exact: Sequence[Iterable[int]] = ()
) -> list[list[StoredPaper]]:
    """For each paper (given by its grams), the stored papers sharing the most uncommon
    grams with it, at most `CANDIDATES`, plus the stored papers of `exact[i]`."""
    postings = {
        gram: ids
        for gram, ids in store.postings({g for gs in grams for g in gs}, COMMON + 1).items()
        if len(ids) <= COMMON
    }
    chosen: list[list[int]] = []
    for i, paper_grams in enumerate(grams):
        ids = best_shared([postings.get(gram, []) for gram in paper_grams])
        extra = exact[i] if i < len(exact) else ()
        chosen.append(list(dict.fromkeys([*extra, *ids])))
    found = store.stored({paper_id for ids in chosen for paper_id in ids})
    return [[found[paper_id] for paper_id in ids if paper_id in found] for ids in chosen]


def search(store: Papers, query: str, limit: int = 20) -> list[tuple[StoredPaper, float]]:
    """Stored papers whose titles best match `query` (words, typos forgiven), best first,
    with their score (0-100)."""
    wanted = normalise(query)
    if not wanted:
        return []
    shared: Counter[int] = Counter()
    for ids in store.postings(title_grams(wanted), 20_000).values():
        shared.update(ids)
    ids = [paper_id for paper_id, _ in shared.most_common(2000)]
    hits = _rank(wanted, store.titles(ids), limit)
    if not hits or hits[0][1] < 100:
        # No title has every word of the query as typed (a typo, or words the index
        # does not hold on their own): compare with every title. Slower (seconds on a
        # million papers), but it finds what is there.
        hits = []
        for chunk in store.all_titles():  # a chunk at a time keeps memory flat
            hits = sorted([*hits, *_rank(wanted, chunk, limit)], key=lambda h: -h[1])[:limit]
    found = store.stored(key for _, _, key in hits)
    return [(found[key], score) for _, score, key in hits if key in found]


def _rank(query: str, titles: dict[int, str], limit: int) -> list[tuple[str, float, int]]:
    from rapidfuzz import fuzz, process

    words = query.split()
    rough: list[tuple[str, float, int]] = [(t, 0, k) for k, t in titles.items()]
    if len(titles) > 2000:
        # A first cut in C on the longest (likely rarest) word of the query, wherever
        # it sits in the title, typos forgiven.
        folded = dict(zip(titles, normalise_all(titles.values()), strict=True))
        rough = [
            (titles[key], score, key)
            for _, score, key in process.extract(
                max(words, key=len),
                folded,
                scorer=fuzz.partial_ratio,
                limit=2000,
                score_cutoff=50,
            )
        ]
    # Then each query word's best match among the title's words: "fentrixgran networks"
    # finds "... Fentrixigran Networks ..." before "Networks for".

    def score(title: str) -> float:
        own = normalise(title).split()
        best = [max(fuzz.ratio(w, t) for t in own) for w in words]
        return sum(best) / len(best)

    ranked = sorted(((t, score(t), k) for t, _, k in rough), key=lambda hit: -hit[1])
    return [hit for hit in ranked[:limit] if hit[1] >= 60]


def forget(store: Papers, ids: Iterable[int]) -> list[StoredPaper]:
    """Remove these papers (their keys and index entries too) so they can be shown again;
    returns the ones that were there."""
    found = store.stored(ids)
    store.remove([(paper_id, grams(Paper(c.title, c.abstract))) for paper_id, c in found.items()])
    return list(found.values())


def named(store: Papers, given: Sequence[str], min_score: float = 90) -> list[int]:
    """The stored papers a user names (`digest forget`): paper ids when every word given is
    a number, else a title, matched whole with at least `min_score` (0-100, typos forgiven):
    a few words of it could match too many papers."""
    if all(word.isdigit() for word in given):
        return [int(word) for word in given]
    from rapidfuzz import fuzz

    query = normalise(" ".join(given))
    hits = search(store, query, 50)
    return [c.seen.id for c, _ in hits if fuzz.ratio(query, normalise(c.title)) >= min_score]


def paper_ids(store: Papers, given: Iterable[str]) -> list[int]:
    """The stored papers of these paper ids (from `digest seen`) or arXiv ids, in order;
    DigestError naming the first that is none."""
    from digest.errors import DigestError
    from digest.identity.keys import arxiv_key

    ids: list[int] = []
    for word in given:
        found: int | None = None
        if word.isdigit():
            found = int(word) if store.titles([int(word)]) else None
        elif key := arxiv_key(word):
            found = next((s.id for s in store.lookup([f"x:{key}"]).values()), None)
        if found is None:
            raise DigestError(f"no paper seen before has the id {word!r}; see `digest seen`")
        ids.append(found)
    return ids
