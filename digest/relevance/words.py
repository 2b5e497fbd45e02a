"""Words of a paper or of a reader's interests, as the models compare them: lower case, without
common words, each reduced to a stem so that "quantisation", "quantization" and "quantized"
meet. Pure and dependency-free."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import pairwise

from digest.models import Paper

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# What an apostrophe glues to a word ("model's", "we're") is no part of its meaning: the word
# meets itself written without it, as it does after a curly apostrophe (which splits words).
_CLITIC = re.compile(r"'(?:s|re|ve|ll|d|m)$")

# Common English words, and the words nearly every abstract uses, which tell nothing of a topic.
_COMMON = """a about above across after again against all almost also although always am among
    an and another any are around as at be because been before being below between both but by can
    cannot could did do does doing done down during each either else enough especially etc even
    ever every few for from further had has have having he her here hers him his how however i
    if in into is it its itself just least less like made make makes many may me might more most
    much must my near need needs neither no nor not now of off often on once one only onto or
    other others our ours out over own per rather same several she should since so some such than
    that the their theirs them themselves then there these they this those though through thus to
    too toward towards under until up upon us use used uses using very via was we well were what
    when where whether which while who whom whose why will with within without would yet you your
    yours paper papers propose proposed proposes present presents introduce introduces show shows
    shown demonstrate demonstrates result results approach approaches method methods new novel
    work works study studies existing based furthermore moreover achieve achieves achieved
    significant significantly various extensive experiment experiments effective effectiveness
    performance art outperform outperforms available github com https http www
    want wants interested interest interests anything things thing especially including include
    includes ways way kind kinds"""
STOPWORDS = frozenset(_COMMON.split())

# -ize words end in "iz" whatever follows: quantization, quantized, quantizes, quantize.
_IZE = ("izations", "ization", "izing", "ized", "izes", "ize")
_SUFFIXES = (
    "ations",
    "ation",
    "ements",
    "ement",
    "ments",
    "ment",
    "ities",
    "ity",
    "ness",
    "ings",
    "ing",
    "ers",
    "ies",
    "ied",
    "ive",
    "es",
    "ed",
    "er",
    "al",
    "ly",
    "s",
)


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A crude stem: British spellings made American, then one common suffix taken off while
    at least four letters remain ("quantisation" and "quantized" both give "quantiz")."""
    if "is" in word[-7:]:
        for british, american in (("isation", "ization"), ("ising", "izing"), ("ised", "ized")):
            if word.endswith(british):
                word = word[: -len(british)] + american
                break
    for suffix in _IZE:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + "iz"
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def words(text: str) -> Iterator[tuple[str, str]]:
    """Each word of `text` that carries meaning, as (stem, word as written)."""
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        base = _CLITIC.sub("", word)
        if base not in STOPWORDS and not base.isdigit() and len(base) > 1:
            yield stem(base), word


@lru_cache(maxsize=1 << 14)  # a paper's terms are found once, whatever the readers
def terms(text: str) -> tuple[str, ...]:
    """The terms a text is indexed by: its stems, and each pair of neighbouring stems
    ("language model"), which says more than either word alone."""
    stems = [s for s, _ in words(text)]
    return (*stems, *(f"{a} {b}" for a, b in pairwise(stems)))


def paper_text(paper: Paper) -> str:
    """What a paper is compared by: its title (twice: it says most in fewest words), abstract,
    keywords and authors. Fields only some dumps have only add to what every dump has."""
    return "\n".join((paper.title, paper.title, paper.abstract, *paper.ai_keywords, *paper.authors))
