"""Decide which papers are new: normalise identities and compare against what was seen.

Pure: the caller looks up the candidate keys in the store and passes in what it found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from digest.models import Paper, SeenPaper, Skip

# Dashes, quotes and other punctuation all fold to a space: "Pre-LN" == "Pre LN".
_PUNCT = re.compile(r"[\W_]+")


def title_key(title: str) -> str:
    """The identity of a title: NFKC, case folded, punctuation and white space folded."""
    text = unicodedata.normalize("NFKC", title).casefold()
    # A title of punctuation alone keeps its characters rather than folding to nothing.
    return " ".join(_PUNCT.sub(" ", text).split()) or " ".join(text.split())


def keys(paper: Paper) -> list[str]:
    """Every exact key the store should be asked about for (or record under) this paper."""
    found = ["t:" + title_key(paper.title)]
    if paper.arxiv_id:  # one paper across formats and re-titlings; any version is the same
        found.append("x:" + re.sub(r"v\d+$", "", paper.arxiv_id.casefold()))
    return found


@dataclass(frozen=True, slots=True)
class Decision:
    """The papers of a run split into the new ones and the ones left out, with reasons."""

    new: tuple[Paper, ...]
    skipped: tuple[Skip, ...]


def decide(papers: Iterable[Paper], seen: Mapping[str, SeenPaper]) -> Decision:
    """Split papers into new and skipped; `seen` maps keys to papers already in the store.

    A paper repeated within the run is shown once, the first time it is listed.
    """
    new: list[Paper] = []
    skipped: list[Skip] = []
    shown: set[str] = set()
    for paper in papers:
        ids = keys(paper)
        hit = next((k for k in reversed(ids) if k in seen), None)
        if hit is not None:
            rule = "same arXiv id" if hit.startswith("x:") else "same title"
            skipped.append(Skip(paper, seen[hit], rule=rule))
        elif any(k in shown for k in ids):
            skipped.append(Skip(paper, None, rule="repeated in this run"))
        else:
            shown.update(ids)
            new.append(paper)
    return Decision(tuple(new), tuple(skipped))
