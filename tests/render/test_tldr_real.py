"""The TL;DR chosen for real abstracts, sentence by sentence: tests/fixtures/tldr_real.tsv
holds, for papers of the real listings and seeds, the sentence a reader should see when the
listing has no AI summary, each read by hand for what the paper does. A change to the chooser
that changes one of these lines must mean to (and the file is edited by hand, never
regenerated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.render.tldr import tldr
from tests.realpapers import paper

TABLE = Path(__file__).resolve().parent.parent / "fixtures" / "tldr_real.tsv"
EXPECTED = [
    tuple(line.split("\t"))
    for line in TABLE.read_text(encoding="utf-8").splitlines()
    if line and not line.startswith("#")
]


def test_the_table_is_of_real_papers() -> None:
    assert 40 <= len(EXPECTED) == len({key for key, _ in EXPECTED})
    assert all(paper(key).abstract for key, _ in EXPECTED)


@pytest.mark.parametrize(("key", "expected"), EXPECTED, ids=[k[:40] for k, _ in EXPECTED])
def test_the_tldr_of_a_real_abstract(key: str, expected: str) -> None:
    found = paper(key)
    line = tldr(found.abstract, None, found.title)
    assert (line.text, line.source) == (expected, "abstract")
