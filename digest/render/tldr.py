"""A paper in one line: the listing's AI summary when it has one, else the sentence of the
abstract that says what the paper does ("We propose ...", "This paper introduces ..."), never
the opening background. Pure: a paper's fields in, a sentence out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

LIMIT = 320  # characters: a TL;DR is read at a glance; a longer sentence is cut at a word

# Where a sentence does not end: abbreviations, and an item of a list ("(1.) The ability").
# A lone capital is an initial only within a name ("John F. Kennedy") or a dotted
# abbreviation ("U.S."); after a lower-case word it is a symbol ending the sentence ("the
# stopping step T. We propose ...").
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|vs|cf|Fig|Figs|Eq|Eqs|Sec|Tab|approx|resp|No|Dr|Mr|Ms|St)"
    r"|(?:^|\b[A-Z]\.\s?|\b[A-Z][a-z]+\s)[A-Z])\.$|\(\d{1,2}\.\)$"
)
# A sentence ends at . ! or ? (and the quote or bracket closing there) before a capital;
# or, with its space lost, between a lower-case word and a capitalised one ("paradigm.This").
_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9\\$])|(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])"
)

# What a paper does, from the strongest cue to the weakest. The subject is the authors or
# the work itself; the verb says what they contribute.
_WHO = (
    r"(?:we|(?:this|the) (?:paper|work|study|report|article|survey)|here,? we"
    r"|our (?:work|paper|approach|method|framework|model))"
)


def _verbs(words: str, forms: str = "active") -> str:
    """A regular expression for the verbs of `words` (irregular past forms after slashes)
    in the forms that say what a subject does: "active" (propose, proposes, proposed, "by
    proposing") or "past" (proposed, for the passive)."""
    out = []
    for word in words.split():
        base, *irregular = word.split("/")
        stem = base.removesuffix("e")
        past = "|".join(irregular or [f"{stem}ed"])
        third = f"{base}es" if base.endswith(("s", "sh", "ch", "x")) else f"{base}s"
        out.append(past if forms == "past" else f"{base}|{third}|{past}|by {stem}ing")
    return "|".join(out)


_CONTRIBUTE = (
    "propose introduce present develop design release build/built construct curate create"
    " offer contribute formulate unveil establish describe"
)
_SHOW = (
    "show/showed/shown find/found demonstrate reveal prove/proved/proven report observe discover"
    " achieve"
)
_CUES = (
    re.compile(rf"\b{_WHO}\b[^.;]{{0,60}}?\b(?:{_verbs(_CONTRIBUTE)})\b", re.I),
    # "We posit that ..., and propose X": the same subject, its second verb.
    re.compile(rf"\b{_WHO}\b[^.;]{{0,200}}?\band (?:{_verbs(_CONTRIBUTE)})\b", re.I),
    # "A new method is proposed": the passive says it of the paper; "efforts to design",
    # "biases introduced by" say it of others.
    re.compile(
        rf"\b(?:is|are|was|were|be|been)\s+(?:\w+\s+)?(?:{_verbs(_CONTRIBUTE, 'past')})\b", re.I
    ),
    re.compile(rf"\b{_WHO}\b[^.;]{{0,60}}?\b(?:{_verbs(_SHOW)})\b", re.I),
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
            continue  # "e.g. This", "et al. The" or "(1.) The": the sentence goes on
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
