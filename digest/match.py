"""Decide which papers are new: normalise identities and compare against what was seen.

Pure: the caller looks up the exact keys and the candidate papers in the store and passes
in what it found. The rule, in order (the README's "How digest recognises a paper" says it
for users):

1. Exact keys: the same arXiv id (version suffix removed), the same normalised title, or the
   same normalised abstract is the same paper.
2. Fuzzy, with rapidfuzz, only against the few candidates the store's index proposes:
   - abstracts at least `abstract` similar: the same paper, whatever its title says;
   - titles at least `title` similar, with no meaningful token changed, and abstracts at
     least `revised` similar: the same paper with a revised abstract;
   - when either side has no abstract: titles at least `title_only` similar with no
     meaningful token changed.
   A meaningful change is a number, a roman numeral, a token with a digit ("2D"/"3D"), a
   different word that is not a one-letter slip ("Speech"/"Music"), or a token added (a
   subtitle). Everything else, new.
3. The same rules apply between the papers of one run, so a paper listed in several dumps
   at once is shown once.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from digest.models import Paper, SeenPaper, Skip, Thresholds

# Dashes, quotes and other punctuation all fold to a space: "Pre-LN" == "Pre LN".
_PUNCT = re.compile(r"[\W_]+")
# TeX as listings carry it: \textit{word}, $\mu$, \mathcal{O}; the braces and $ go as
# punctuation, a command keeps its name so that "$\mu$P" and "μP" both read "mu p".
_TEX_COMMAND = re.compile(
    r"\\(?:text[a-z]*|math[a-z]*|emph|em|operatorname|mbox|bf|it|rm|sf|tt|sc|bfseries"
    r"|itshape|scshape|left|right|big|Big)\b"
)
_TEX_ACCENT = re.compile(r"\\[`'^\"~=.]\{?([A-Za-z])\}?")
_TEX_NAME = re.compile(r"\\([A-Za-z]+)")
_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
# Words a re-typed title may gain or lose without becoming another paper.
STOPWORDS = frozenset(
    [
        "a", "an", "the", "of", "for", "on", "in", "and", "with", "to", "via", "using",
        "from", "by", "at", "as", "is", "are", "its", "into", "towards", "toward",
    ]
)  # fmt: skip
ABSTRACT_MIN = 100  # normalised characters; a shorter abstract does not identify a paper
SKETCH = 6  # abstract shingles kept per paper in the candidate index
_C1, _C2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)


def _greek() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x0391, 0x03FF):
        name = unicodedata.name(chr(code), "")
        if name.startswith(("GREEK SMALL LETTER ", "GREEK CAPITAL LETTER ")):
            word = name.split(" LETTER ", 1)[1].split()[0].lower()
            table[code] = f" {word} " if word.isalpha() else ""
    return table


_GREEK = _greek()
# "n^2" reads as "n²" does, "n2", once NFKD has spelt the superscript out.
_ASCII_FOLD = {c: (chr(c).lower() if chr(c).isalnum() else " ") for c in range(128)} | {
    ord("^"): ""
}


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Text reduced to what identifies it: TeX markup and accents gone, Greek letters spelt
    out, case, punctuation and white space folded."""
    if "&" in text:  # "&amp;" as some listings carry it
        text = html.unescape(text)
    if "\\" in text:
        text = _TEX_ACCENT.sub(r"\1", text)
        text = _TEX_COMMAND.sub(" ", text)
        text = _TEX_NAME.sub(r" \1 ", text)
    if text.isascii():
        # The common case, several times faster than the regular expression below.
        return " ".join(text.translate(_ASCII_FOLD).split()) or " ".join(text.split())
    else:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
        text = text.translate(_GREEK).casefold().replace("^", "")
    # Text of punctuation alone keeps its characters rather than folding to nothing.
    return " ".join(_PUNCT.sub(" ", text).split()) or " ".join(text.split())


def title_key(title: str) -> str:
    """The identity of a title: `normalise`d."""
    return normalise(title)


def abstract_key(abstract: str) -> str | None:
    """A short fingerprint of a normalised abstract, or None when it is too short to tell."""
    text = normalise(abstract)
    if len(text) < ABSTRACT_MIN:
        return None
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def arxiv_key(arxiv_id: str | None) -> str | None:
    """An arXiv identifier without its "arXiv:" prefix, URL or version suffix."""
    if not arxiv_id:
        return None
    text = arxiv_id.strip().lower()
    text = re.sub(r"^(?:https?://)?(?:www\.)?arxiv\.org/(?:abs|pdf)/|^arxiv:", "", text)
    text = re.sub(r"(?:\.pdf)?$", "", text)
    return re.sub(r"v\d+$", "", text) or None


def keys(paper: Paper) -> list[str]:
    """Every exact key the store should be asked about for (or record under) this paper:
    arXiv id, title, abstract, strongest first."""
    found = []
    if (arxiv := arxiv_key(paper.arxiv_id)) is not None:
        found.append("x:" + arxiv)
    found.append("t:" + title_key(paper.title))
    if (abstract := abstract_key(paper.abstract)) is not None:
        found.append("a:" + abstract)
    return found


RULES = {"x": "same arXiv id", "t": "same title", "a": "same abstract"}


def distinct_ids(paper: Paper, other_ids: Iterable[str | None]) -> bool:
    """True when the paper and another both carry an arXiv id and no id of one is an id of
    the other: two papers, whatever their titles and abstracts say. Likeness of title and
    abstract only decides when at least one side has no id."""
    mine = arxiv_key(paper.arxiv_id)
    theirs = {key for key in map(arxiv_key, other_ids) if key}
    return mine is not None and bool(theirs) and mine not in theirs


# -- the candidate index --------------------------------------------------------------------


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


@lru_cache(maxsize=1024)
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


# -- the fuzzy rule -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    """A paper's normalised title and abstract, as the fuzzy rule compares them."""

    title: str
    abstract: str

    @classmethod
    def of(cls, title: str, abstract: str) -> Identity:
        """The identity of a title and abstract as listed."""
        abstract = normalise(abstract)
        return cls(normalise(title), abstract if len(abstract) >= ABSTRACT_MIN else "")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored paper the index proposes for comparison, with its title and abstract."""

    seen: SeenPaper
    title: str
    abstract: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fuzzy rule's answer for one pair: same paper or not, by which rule, how alike."""

    same: bool
    rule: str
    score: float
    revised: bool = False  # the same paper, but its abstract changed


def meaningful_difference(a: str, b: str) -> bool:
    """True when two normalised titles differ in a token that makes them different papers:
    a number, a roman numeral, a token with a digit, a different word that is not a
    one-letter slip, or a token one of them lacks."""
    wa, wb = a.split(), b.split()
    if "".join(wa) == "".join(wb):
        return False  # only spacing differs: "PreLN" / "Pre-LN"
    only_a = list((Counter(wa) - Counter(wb)).elements())
    only_b = list((Counter(wb) - Counter(wa)).elements())
    for word in list(only_a):
        if not only_b:
            break
        best = min(only_b, key=lambda other: OSA.distance(word, other))
        if _slip(word, best):  # "Towrads" / "Towards"
            only_a.remove(word)
            only_b.remove(best)
    # What is left must be small words a re-typed title may gain or lose.
    return any(w not in STOPWORDS for w in only_a + only_b)


def _slip(a: str, b: str) -> bool:
    """A one-letter typo (two in a long word) rather than another word. Two letters
    swapped count as one slip ("Froward" / "Forward")."""
    if not (a.isalpha() and b.isalpha()) or _ROMAN.match(a) or _ROMAN.match(b):
        return False
    if min(len(a), len(b)) < 5:  # "GANs" / "GAPs": short words are too easily other words
        return False
    return OSA.distance(a, b) <= (2 if min(len(a), len(b)) >= 8 else 1)


def compare(new: Identity, old: Identity, thresholds: Thresholds) -> Verdict:
    """Are these the same paper? Pure: two identities in, a verdict with its reason out."""
    title = fuzz.ratio(new.title, old.title)
    if new.abstract and old.abstract:
        # The cut-off lets rapidfuzz stop early on the many candidates that are not the same.
        needed = thresholds.revised if title >= thresholds.title else thresholds.abstract
        abstract = fuzz.ratio(new.abstract, old.abstract, score_cutoff=needed)
        changed = new.abstract != old.abstract
        if abstract >= thresholds.abstract:
            rule = "similar abstract" if changed else "same abstract"
            return Verdict(True, rule, abstract, revised=changed)
        if (
            title >= thresholds.title
            and abstract >= thresholds.revised
            and not meaningful_difference(new.title, old.title)
        ):
            return Verdict(True, "similar title, revised abstract", min(title, abstract), True)
        return Verdict(False, "different abstract", abstract)  # 0 below the cut-off
    if title >= thresholds.title_only and not meaningful_difference(new.title, old.title):
        return Verdict(True, "similar title, no abstract to compare", title)
    return Verdict(False, "different title", title)


# -- the decision ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """The papers of a run split into the new ones and the ones left out, with reasons."""

    new: tuple[Paper, ...]
    skipped: tuple[Skip, ...]

    @property
    def updated(self) -> tuple[Skip, ...]:
        """Papers seen before whose abstract has changed since."""
        return tuple(s for s in self.skipped if s.revised and s.matched is not None)


@dataclass
class _Run:
    """The papers taken as new so far in this run, indexed like the store."""

    papers: list[tuple[Paper, Identity]] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    grams: dict[int, list[int]] = field(default_factory=dict)

    def add(self, paper: Paper, identity: Identity, keys: list[str], grams: Sequence[int]) -> None:
        index = len(self.papers)
        self.papers.append((paper, identity))
        for key in keys:
            self.keys.setdefault(key, index)
        for gram in grams:
            self.grams.setdefault(gram, []).append(index)

    def candidates(self, grams: Sequence[int]) -> list[int]:
        return best_shared([self.grams.get(gram, []) for gram in grams])


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


def decide(
    papers: Iterable[Paper],
    seen: Mapping[str, SeenPaper],
    candidates: Sequence[Sequence[Candidate]] | None = None,
    thresholds: Thresholds | None = None,
) -> Decision:
    """Split papers into new and skipped.

    `seen` maps exact keys to papers already in the store; `candidates[i]` lists the stored
    papers the index proposes for the i-th paper (and those its exact keys found, so a
    changed abstract can be told). A paper repeated within the run is shown once, the first
    time it is listed.
    """
    thresholds = thresholds or Thresholds()
    new: list[Paper] = []
    skipped: list[Skip] = []
    run = _Run()
    for i, paper in enumerate(papers):
        paper_keys = keys(paper)
        identity = Identity.of(paper.title, paper.abstract)
        stored = candidates[i] if candidates is not None and i < len(candidates) else ()
        skip = _against_store(paper, identity, paper_keys, seen, stored, thresholds)
        if skip is None:
            skip = _against_run(paper, identity, paper_keys, run, thresholds)
        if skip is None:
            new.append(paper)
            run.add(paper, identity, paper_keys, grams(paper))
        else:
            skipped.append(skip)
    return Decision(tuple(new), tuple(skipped))


def _against_store(
    paper: Paper,
    identity: Identity,
    paper_keys: list[str],
    seen: Mapping[str, SeenPaper],
    stored: Sequence[Candidate],
    thresholds: Thresholds,
) -> Skip | None:
    for key in paper_keys:
        if key in seen and not distinct_ids(paper, seen[key].arxiv_ids):
            matched = seen[key]
            revised = False
            for candidate in stored:
                if candidate.seen.id == matched.id:
                    old = Identity.of(candidate.title, candidate.abstract)
                    revised = bool(identity.abstract and old.abstract) and (
                        identity.abstract != old.abstract
                    )
            return Skip(paper, matched, rule=RULES[key[0]], revised=revised)
    best: tuple[Verdict, Candidate] | None = None
    for candidate in stored:
        if distinct_ids(paper, candidate.seen.arxiv_ids):
            continue
        verdict = compare(identity, Identity.of(candidate.title, candidate.abstract), thresholds)
        if verdict.same and (best is None or verdict.score > best[0].score):
            best = (verdict, candidate)
    if best is None:
        return None
    verdict, candidate = best
    return Skip(paper, candidate.seen, verdict.rule, verdict.score, revised=verdict.revised)


def _against_run(
    paper: Paper, identity: Identity, paper_keys: list[str], run: _Run, thresholds: Thresholds
) -> Skip | None:
    for key in paper_keys:
        if key in run.keys and not distinct_ids(paper, [run.papers[run.keys[key]][0].arxiv_id]):
            earlier = run.papers[run.keys[key]][0]
            rule = "repeated in this run"
            if key[0] != "t":  # the same title needs no more saying
                rule += f": {RULES[key[0]]}"
            return Skip(paper, None, rule, repeats=earlier)
    best: tuple[Verdict, Paper] | None = None
    for index in run.candidates(grams(paper)):
        earlier, old = run.papers[index]
        if distinct_ids(paper, [earlier.arxiv_id]):
            continue
        verdict = compare(identity, old, thresholds)
        if verdict.same and (best is None or verdict.score > best[0].score):
            best = (verdict, earlier)
    if best is None:
        return None
    verdict, earlier = best
    rule = f"repeated in this run: {verdict.rule}"
    return Skip(paper, None, rule, verdict.score, revised=verdict.revised, repeats=earlier)
