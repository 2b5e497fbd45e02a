"""The JSON output: papers, rejected files, skipped papers and stats in one object."""

from __future__ import annotations

import json
from typing import Any

from digest.models import Skip
from digest.render.views import DigestView, paper_view


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


def to_json(view: DigestView) -> str:
    """The JSON contract: papers, rejected, skipped and stats in one object."""
    digest = view.digest
    s = digest.stats
    return (
        json.dumps(
            {
                "created": digest.created.isoformat(timespec="seconds"),
                "summary": view.summary,
                "counts": view.counts,
                "papers": view.papers,
                "more": view.more,
                "excluded": view.excluded,
                "skipped": [_skip(s) for s in digest.skipped],
                "updated": [_skip(s) for s in digest.updated],
                "rejected": [{"file": r.file, "reason": r.reason} for r in digest.rejected],
                "dumps": [
                    {
                        "file": d.name,
                        "sha256": d.sha256,
                        "listing_date": d.listing_date,
                        "listed": d.listed,
                        "papers": len(d.papers),
                        "encoding": d.encoding,
                    }
                    for d in digest.dumps
                ],
                "stats": {
                    "dumps": s.dumps,
                    "listed": s.listed,
                    "new": s.new,
                    "seen_before": s.seen_before,
                    "repeated": s.repeated,
                    "rejected": s.rejected,
                    "excluded": s.excluded,
                    "low_scored": s.low_scored,
                },
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )
