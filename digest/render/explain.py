"""The lines of `digest now --explain`: why each listed paper was left out."""

from __future__ import annotations

from collections.abc import Sequence

from digest.models import Skip


def _ids(*arxiv_ids: str | None) -> str:
    """ " [arXiv 2507.02592]" for a paper's ids when it has any, else nothing."""
    known = [i for i in arxiv_ids if i]
    return f" [arXiv {', '.join(known)}]" if known else ""


def explain(skipped: Sequence[Skip]) -> list[str]:
    """One paragraph per paper left out: what it matched, when that was first seen, the
    rule that decided and its score."""
    lines: list[str] = []
    for s in skipped:
        lines.append(
            f"left out: {s.paper.title!r}{_ids(s.paper.arxiv_id)} ({s.paper.source or 'no dump'})"
        )
        if s.matched is not None:
            m = s.matched
            lines.append(
                f"  seen before as {m.title!r}{_ids(*m.arxiv_ids)}, paper {m.id}, first seen"
                f" {m.first_seen:%Y-%m-%d %H:%M %Z} in {m.first_dump}"
            )
        elif s.repeats is not None:
            r = s.repeats
            lines.append(f"  repeats {r.title!r}{_ids(r.arxiv_id)} ({r.source}) of this run")
        updated = "; abstract changed" if s.revised else ""
        lines.append(f"  rule: {s.rule}, score {s.score:.0f}{updated}")
    return lines
