"""The fuzzy rule: are two identities the same paper? Pure, and explained.

- abstracts at least `abstract` similar: the same paper, whatever its title says, unless the
  titles are alike but for a number (a sequel that kept most of its original's abstract:
  "V1.5" / "V2", "2D" / "3D");
- titles at least `title` similar, with no meaningful token changed, and abstracts at least
  `revised` similar: the same paper with a revised abstract;
- when either side has no abstract: titles at least `title_only` similar with no meaningful
  token changed.
A meaningful change is a number, a roman numeral, a token with a digit ("2D"/"3D"), a
different word that is not a one-letter slip ("Speech"/"Music"; two letters swapped or
dropped in a long word are a slip, two replaced another word: "Tracking"/"Training"),
or a token added (a subtitle). Two papers that both carry arXiv ids and share none are two papers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from digest.identity.keys import STOPWORDS, Identity, arxiv_key
from digest.models import Paper, Thresholds

_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")


def distinct_ids(paper: Paper, other_ids: Iterable[str | None]) -> bool:
    """True when the paper and another both carry an arXiv id and no id of one is an id of
    the other: two papers, whatever their titles and abstracts say. Likeness of title and
    abstract only decides when at least one side has no id."""
    mine = arxiv_key(paper.arxiv_id)
    theirs = {key for key in map(arxiv_key, other_ids) if key}
    return mine is not None and bool(theirs) and mine not in theirs


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
    # What is left must be small words a re-typed title may gain or lose.
    return any(w not in STOPWORDS for w in _differing(a, b))


def numbered_difference(a: str, b: str) -> bool:
    """True when two normalised titles differ in a number, a roman numeral or a token with a
    digit: "Part I" / "Part II", "2D" / "3D", "Qwen2.5" / "Qwen3"."""
    return any(_ROMAN.match(w) or not w.isalpha() for w in _differing(a, b))


def _differing(a: str, b: str) -> list[str]:
    """The tokens of one normalised title the other lacks, slips forgiven."""
    wa, wb = a.split(), b.split()
    if "".join(wa) == "".join(wb):
        return []  # only spacing differs: "PreLN" / "Pre-LN"
    only_a = list((Counter(wa) - Counter(wb)).elements())
    only_b = list((Counter(wb) - Counter(wa)).elements())
    for word in list(only_a):
        if not only_b:
            break
        best = min(only_b, key=lambda other: OSA.distance(word, other))
        if _slip(word, best):  # "Towrads" / "Towards"
            only_a.remove(word)
            only_b.remove(best)
    return only_a + only_b


def _slip(a: str, b: str) -> bool:
    """A one-letter typo rather than another word; two in a long word, of which one at most
    replaced a letter by another (the others swapped, dropped or doubled letters). Two
    letters swapped count as one slip ("Froward" / "Forward")."""
    if not (a.isalpha() and b.isalpha()) or _ROMAN.match(a) or _ROMAN.match(b):
        return False
    if min(len(a), len(b)) < 5:  # "GANs" / "GAPs": short words are too easily other words
        return False
    distance = OSA.distance(a, b)
    if distance <= 1:
        return True
    # Two letters replaced make another word as often as a typo: "Tracking" / "Training",
    # "Segmentation" / "Augmentation". A letter replaced is one each word has and the other lacks;
    # one swapped, dropped or doubled is not.
    replaced = min((Counter(a) - Counter(b)).total(), (Counter(b) - Counter(a)).total())
    return distance == 2 and min(len(a), len(b)) >= 8 and replaced <= 1


def compare(new: Identity, old: Identity, thresholds: Thresholds) -> Verdict:
    """Are these the same paper? Pure: two identities in, a verdict with its reason out."""
    title = fuzz.ratio(new.title, old.title)
    if new.abstract and old.abstract:
        # The cut-off lets rapidfuzz stop early on the many candidates that are not the same.
        needed = thresholds.revised if title >= thresholds.title else thresholds.abstract
        abstract = fuzz.ratio(new.abstract, old.abstract, score_cutoff=needed)
        changed = new.abstract != old.abstract
        # A sequel keeps its original's title but for a number, and may keep most of its
        # abstract too; a re-titled paper has a new title.
        sequel = changed and title >= thresholds.title
        if abstract >= thresholds.abstract and not (
            sequel and numbered_difference(new.title, old.title)
        ):
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
