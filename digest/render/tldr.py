"""A paper in one line: the listing's AI summary when it has one, else the sentence of the
abstract that says what the paper does ("We propose ...", "This paper introduces ..."), never
the opening background. Pure: a paper's fields in, a sentence out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

LIMIT = 320  # characters: a TL;DR is read at a glance; a longer sentence is cut at a word

# Abbreviations a sentence does not end at.
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Figs|Eq|Eqs|Sec|Tab|approx|resp|No|Dr|Mr|Ms|St)"
    r"|\b[A-Z])\.$"
)
_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9\\$])")

# What a paper does, from the strongest cue to the weakest. The subject is the authors or
# the work itself; the verb says what they contribute.
_WHO = (
    r"(?:we|this (?:paper|work|study|report|article)|in this (?:paper|work)|here,? we"
    r"|our (?:work|paper|approach|method|framework|model))"
)
_CONTRIBUTE = (
    r"propose|introduce|present|develop|design|release|build|construct|curate|create|offer"
    r"|contribute|formulate|unveil|establish|describe"
)
_SHOW = r"show|find|demonstrate|reveal|prove|report|observe|discover|achieve"
_CUES = (
    re.compile(rf"\b{_WHO}\b[^.;]{{0,60}}?\b(?:{_CONTRIBUTE})(?:s|d|ed)?\b", re.I),
    re.compile(rf"\b(?:{_CONTRIBUTE})(?:s|d|ed)?\b", re.I),
    re.compile(rf"\b{_WHO}\b[^.;]{{0,60}}?\b(?:{_SHOW})(?:s|ed|n)?\b", re.I),
    re.compile(rf"\b(?:{_WHO}|results|experiments|evaluations?)\b", re.I),
)
# A sentence that sets the scene rather than says what the paper does.
_BACKGROUND = re.compile(
    r"^(?:however|yet|but|despite|although|while|recent|recently|existing|current|traditional|"
    r"conventional|prior|previous|many|most|several)\b|\b(?:have|has) been\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Tldr:
    """A paper's one line, and where it came from: "ai" (the listing's summary) or
    "abstract" (a sentence of it)."""

    text: str
    source: str


def sentences(text: str) -> list[str]:
    """The sentences of an abstract, in order; abbreviations (e.g., et al.) do not end one."""
    text = " ".join(text.split())
    out: list[str] = []
    at = 0
    for m in _END.finditer(text):
        piece = text[at : m.start()].rstrip()
        if _ABBREVIATIONS.search(piece):
            continue  # "e.g. This" or "et al. The": the sentence goes on
        out.append(text[at : m.start()].strip())
        at = m.end()
    if text[at:].strip():
        out.append(text[at:].strip())
    return [s for s in out if s]


def contribution(abstract: str) -> str:
    """The sentence of `abstract` that states the contribution: the first with the strongest
    cue ("we propose" over "is proposed" over "we show"); when none has one, the first that
    does not open with background; "" for an empty abstract."""
    found = sentences(abstract)
    if not found:
        return ""
    for cue in _CUES:
        for i, sentence in enumerate(found):
            if i == 0 and len(found) > 1 and cue is _CUES[-1]:
                continue  # the weakest cue does not pick the opening sentence
            if cue is not _CUES[0] and _BACKGROUND.search(sentence):
                continue  # "Recently, X have been proposed": what others did
            if cue.search(sentence):
                return sentence
    for sentence in found[1:]:
        if not _BACKGROUND.search(sentence):
            return sentence
    return found[0]


def clip(text: str, limit: int = LIMIT) -> str:
    """`text` within `limit` characters, cut at a word with an ellipsis when longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@lru_cache(maxsize=4096)  # a paper is seen by every reader's digest, and by the skipped list
def tldr(abstract: str, ai_summary: str | None = None) -> Tldr:
    """The paper in one line: its AI summary when the listing has one, else the contribution
    sentence of its abstract, within LIMIT characters."""
    if ai_summary and ai_summary.strip():
        return Tldr(clip(ai_summary), "ai")
    return Tldr(clip(contribution(abstract)), "abstract")
