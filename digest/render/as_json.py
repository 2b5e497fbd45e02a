"""The JSON output: papers, rejected files, skipped papers and stats in one object."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from digest.models import Skip
from digest.render.views import DigestView, kept, paper_view

T = TypeVar("T")


def _skip(s: Skip) -> dict[str, Any]:
    out = {
        **paper_view(s.paper),
        "rule": s.rule,
        "score": round(s.score, 1),
        "revised": s.revised,
        "matched": None,
        "repeats": None if s.repeats is None else paper_view(s.repeats),
    }
    if s.matched is not None:
        out["matched"] = {
            "id": s.matched.id,
            "title": s.matched.title,
            "first_seen": s.matched.first_seen.isoformat(),
            "first_dump": s.matched.first_dump,
            "arxiv_ids": list(s.matched.arxiv_ids),
        }
    return out


def to_json(view: DigestView, made: dict[Hashable, Any] | None = None) -> str:
    """The JSON contract: papers, rejected, skipped and stats in one object. What is the same
    in every digest of a run (a paper's view, a skipped paper) is written once a run into
    `made`, the run's cache, and put in place: the same text as json.dumps of the whole."""
    digest = view.digest
    s = digest.stats
    members = {
        "created": _dumped(digest.created.isoformat(timespec="seconds")),
        "summary": _dumped(view.summary),
        "counts": _dumped(view.counts),
        "papers": _items([_once(made, v, lambda v: v) for v in view.papers]),
        "more": _items([_once(made, v, lambda v: v) for v in view.more]),
        "excluded": _items([_once(made, v, lambda v: v) for v in view.excluded]),
        "skipped": _items([_once(made, s, _skip) for s in digest.skipped]),
        "updated": _items([_once(made, s, _skip) for s in digest.updated]),
        "rejected": _dumped([{"file": r.file, "reason": r.reason} for r in digest.rejected]),
        "dumps": _dumped(
            [
                {
                    "file": d.name,
                    "sha256": d.sha256,
                    "listing_date": d.listing_date,
                    "listed": d.listed,
                    "papers": len(d.papers),
                    "encoding": d.encoding,
                }
                for d in digest.dumps
            ]
        ),
        "stats": _dumped(
            {
                "dumps": s.dumps,
                "listed": s.listed,
                "new": s.new,
                "seen_before": s.seen_before,
                "repeated": s.repeated,
                "rejected": s.rejected,
                "excluded": s.excluded,
                "low_scored": s.low_scored,
            }
        ),
    }
    lines = ",\n".join(f"  {json.dumps(k)}: {v}" for k, v in members.items())
    return "{\n" + lines + "\n}\n"


def _dumped(value: object, depth: int = 1) -> str:
    """A value as json.dumps writes it, indented by 2, at this depth of the whole."""
    return json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n" + "  " * depth)


def _items(written: list[str]) -> str:
    """A list of values written at depth 2 (`_once`), as a member of the whole."""
    if not written:
        return "[]"
    return "[\n    " + ",\n    ".join(written) + "\n  ]"


def _once(made: dict[Hashable, Any] | None, value: T, shape: Callable[[T], object]) -> str:
    """A list item's JSON (`shape(value)`, written at depth 2), once a run for the same value
    (see views.kept)."""
    if made is None:
        return _dumped(shape(value), 2)
    return kept(made, ("json", id(value)), value, lambda: _dumped(shape(value), 2))
