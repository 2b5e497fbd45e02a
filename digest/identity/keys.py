"""A paper's identity: its text normalised, and the exact keys it is recorded and looked up under.

Pure. An arXiv id without its version, a normalised title, a fingerprint of a normalised
abstract: any one of them shared is the same paper (see `digest.identity.decide`).
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from digest.models import Paper

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
# Words a re-typed title may gain or lose without becoming another paper.
STOPWORDS = frozenset(
    [
        "a", "an", "the", "of", "for", "on", "in", "and", "with", "to", "via", "using",
        "from", "by", "at", "as", "is", "are", "its", "into", "towards", "toward",
    ]
)  # fmt: skip
ABSTRACT_MIN = 100  # normalised characters; a shorter abstract does not identify a paper


def _greek() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x0391, 0x03FF):
        name = unicodedata.name(chr(code), "")
        if name.startswith(("GREEK SMALL LETTER ", "GREEK CAPITAL LETTER ")):
            # The letter's own name: "FINAL SIGMA" is a sigma, "ARCHAIC KOPPA" a koppa.
            word = name.split(" LETTER ", 1)[1].split(" WITH ")[0].split()[-1].lower()
            table[code] = f" {word} "
    return table


_GREEK = _greek()
# TeX's math signs join what they stand between rather than part it ("$k$NN" reads "knn",
# as "kNN" does), and its sub- and superscripts read as Unicode's do once NFKD has spelt
# them out: "n^2" as "n²", "n2"; "CO$_2$" as "CO₂", "co2".
_TEX_JOINS = {ord("$"): "", ord("^"): "", ord("_"): ""}
_ASCII_FOLD = {c: (chr(c).lower() if chr(c).isalnum() else " ") for c in range(128)} | _TEX_JOINS


def _normalise(text: str) -> str:
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
        text = text.translate(_GREEK).casefold().translate(_TEX_JOINS)
    # Text of punctuation alone keeps its characters rather than folding to nothing.
    return " ".join(_PUNCT.sub(" ", text).split()) or " ".join(text.split())


normalise = lru_cache(maxsize=4096)(_normalise)


def normalise_all(texts: Iterable[str]) -> list[str]:
    """`normalise` of many texts each read once (every title of the catalogue): no cache
    to churn through, and plain ASCII folded inline, several times faster."""
    fold = _ASCII_FOLD
    return [
        (" ".join(t.translate(fold).split()) or " ".join(t.split()))
        if t.isascii() and "&" not in t and "\\" not in t
        else _normalise(t)
        for t in texts
    ]


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
