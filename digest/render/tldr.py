"""A paper in one line: the listing's AI summary when it has one, else the sentence of the
abstract that best says what the paper does ("We propose ...", "This paper introduces ...",
"PolicyGuide compiles ..."), never the opening background, future work or an afterthought,
without its lead-in clause and never cut inside a list. Pure: a paper's fields in, a sentence
out. benchmarks/tldr.py measures the choice against the listings' AI summaries.
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
    r"(?:we|(?:this|the) (?:paper|work|study|report|article|survey|thesis)|here,? we"
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


# A sentence that adds to what another said ("Lastly, we introduce ...", "We further show"):
# the paper's main contribution is elsewhere.
_SECONDARY = re.compile(
    r"^(?:lastly|finally|additionally|moreover|furthermore|further|besides|also|in addition"
    r"|second(?:ly)?|third(?:ly)?|then|next)\b|\b(?:we|it|this) (?:also|further|additionally)\b",
    re.I,
)
# What a reader of a TL;DR should never get: the future, the limits, what is left undone,
# what the authors hope for.
_NEVER = re.compile(
    r"\bfuture (?:work|research|directions?|studies)\b|\bin the future\b"
    r"|\bwe (?:hope|believe|envision|anticipate)\b"
    r"|\b(?:will|shall) (?:address|explore|investigate|extend|study|focus)\b"
    r"|\blimitations? (?:of (?:this|our)|include|remain)|\bwe leave\b|\bremains? (?:an )?open\b",
    re.I,
)
# A sentence that leans on the one before it: "Complementary evaluations find ...", "These
# results ...", "Such models ...", "Both ...".
_LEANS = re.compile(
    r"^(?:complementary|these|those|such|both|its|their|this (?!paper|work|study|report|article"
    r"|survey|thesis)\w+|the (?:former|latter|resulting|proposed))\b",
    re.I,
)
# A clause that only leads to the sentence's subject: "To bridge these gaps, we introduce X"
# reads "We introduce X" alone; so do "In this paper, we ..." and "Building on this, we ...".
_LEAD_IN = re.compile(
    r"^(?:(?:to|in order to|in this|here|specifically|concretely|hence|thus|therefore|accordingly"
    r"|as such|consequently|building|based|motivated|inspired|drawing|focusing|guided"
    r"|toward|towards|for)\b[^,;:.()]{0,140}?|here),\s+"
    r"(?=(?:we|this (?:paper|work|study|report|article)|our (?:work|paper))\b)",
    re.I,
)
# A contribution that names nothing: "We compare the existing systems and present our new
# model."
_VAGUE = re.compile(
    r"\b(?:a|an|our) (?:new|novel|proposed) (?:model|method|approach|framework|system)\.?$", re.I
)
# A sentence that points to what follows it: "We design it as follows: ...".
_POINTS = re.compile(r"\bas follows\b", re.I)
_WEIGHTS = (6.0, 5.0, 4.0, 3.0, 1.0)  # of the cues, strongest first
# A list the sentence opens after a colon: "two key properties: (1) Decomposability".
_LIST = re.compile(r"\s*:\s*\(?(?:1|i|a)\.?\)")


def named(title: str) -> str:
    """The name a title gives its work: before a colon ("PolicyGuide: From Guarding ..." ->
    "PolicyGuide"), at most three words; else its first word when that is a name, with a
    digit or a capital inside ("GR-3 Technical Report" -> "GR-3"); else ""."""
    head, colon, _ = title.partition(":")
    head = " ".join(head.split())
    if colon:
        return head if head and len(head.split()) <= 3 else ""
    first = head.split(" ", 1)[0] if head else ""
    return first if re.fullmatch(r"[A-Z][\w-]*(?:[A-Z]|\d)[\w-]*", first) else ""


def _score(sentence: str, index: int, count: int, name: str = "") -> float:
    """How well a sentence states the paper's contribution: its strongest cue (the work's own
    name as its subject among them), less for setting the scene, adding to another sentence
    or leaning on the one before; never for future work or limitations (minus infinity)."""
    if _NEVER.search(sentence):
        return float("-inf")
    score = 0.0
    if name and re.match(rf"{re.escape(name)}\b(?! (?:has|have) been)", sentence):
        score = _WEIGHTS[1]  # "PolicyGuide compiles each policy into ...": what it does
    for weight, cue in zip(_WEIGHTS, _CUES, strict=True):
        if cue.search(sentence):
            if cue is _CUES[-1] and index == 0 and count > 1:
                continue  # the weakest cue does not pick the opening sentence
            score = max(score, weight)
            break
    if _BACKGROUND.search(sentence) and score < _WEIGHTS[0]:
        score -= 4  # "Recently, X have been proposed": what others did
    if _SECONDARY.search(sentence):
        score -= 3.5
    if _LEANS.search(sentence):
        score -= 2
    if _VAGUE.search(sentence):
        score -= 3
    if _POINTS.search(sentence):
        score -= 5  # what it says comes after it
    return score


def lead_in(sentence: str) -> str:
    """The sentence without a clause that only leads to its subject: "To bridge these gaps,
    we introduce X." -> "We introduce X."."""
    trimmed = _LEAD_IN.sub("", sentence, count=1)
    return trimmed[:1].upper() + trimmed[1:] if trimmed != sentence else sentence


def before_list(sentence: str, limit: int = LIMIT) -> str:
    """The sentence up to a list it opens, never a part of the list: "... with two key
    properties: (1) Decomposability." -> "... with two key properties."; a sentence too
    long for a TL;DR also stops at a colon that opens one ("four stages: we first ...")."""
    found = _LIST.search(sentence)
    if found is None and len(sentence) > limit:
        found = re.search(r"\s*:\s", sentence[:limit])
    if found is None or found.start() < 40:
        return sentence
    return sentence[: found.start()].rstrip(" ,;") + "."


def contribution(abstract: str, title: str = "") -> str:
    """The sentence of `abstract` that states the contribution, best scored (the first of
    equals): a strong cue ("we propose" over "is proposed" over "we show"), not background,
    not added to another sentence, never future work or limitations; without a lead-in
    clause. When none has a cue, the first that does not open with background; "" for an
    empty abstract. `title` gives the work's name (see `named`)."""
    found = sentences(abstract)
    if not found:
        return ""
    name = named(title)
    scores = [_score(s, i, len(found), name) for i, s in enumerate(found)]
    best = max(range(len(found)), key=lambda i: (scores[i], -i))
    if scores[best] <= 0:
        usable = [
            s
            for i, s in enumerate(found)
            if i
            and scores[i] > float("-inf")
            and not _BACKGROUND.search(s)
            and not _LEANS.search(s)
        ]
        chosen = usable[0] if usable else found[0]
    else:
        chosen = found[best]
    return before_list(lead_in(chosen))


def within(line: str, abstract: str) -> bool:
    """Whether a TL;DR is said in the abstract: a sentence of it, as written but for a lead-in
    left out, a list it opened, or a cut at its end."""
    said = line.rstrip("…").removesuffix(".")
    return bool(said) and said[1:] in " ".join(abstract.split())


def clip(text: str, limit: int = LIMIT) -> str:
    """`text` within `limit` characters, cut at a word with an ellipsis when longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@lru_cache(maxsize=4096)  # a paper is seen by every reader's digest, and by the skipped list
def tldr(abstract: str, ai_summary: str | None = None, title: str = "") -> Tldr:
    """The paper in one line: its AI summary when the listing has one, else the contribution
    sentence of its abstract, within LIMIT characters."""
    if ai_summary and ai_summary.strip():
        return Tldr(clip(ai_summary), "ai")
    return Tldr(clip(contribution(abstract, title)), "abstract")
