"""The papers of the real Daily Papers listings (tests/fixtures/real) and of the seeds, parsed
once for the tests that read them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from digest import formats
from digest.models import Paper

ROOT = Path(__file__).resolve().parent.parent
REAL = sorted((ROOT / "tests" / "fixtures" / "real").glob("*.json")) + sorted(
    (ROOT / "seeds").glob("*.txt")
)


@cache
def real_papers() -> tuple[Paper, ...]:
    """Every paper of the ten real days and the five seeds, as listed (repeats included)."""
    return tuple(p for path in REAL for p in formats.parse(path.read_bytes(), path.name).papers)


@cache
def _first_listed() -> dict[str, Paper]:
    found: dict[str, Paper] = {}
    for p in real_papers():
        found.setdefault(p.arxiv_id or p.title, p)
    return found


def paper(key: str) -> Paper:
    """A real paper by its arXiv id, or by its title where its dump gives no id; the first
    listing of it."""
    return _first_listed()[key]
