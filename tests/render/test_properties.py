"""Property-based tests: the renderers never fail on arbitrary input, and data never becomes
markup."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from digest.formats import clean
from digest.models import Digest, Dump, Paper, Rejected
from digest.render import render

WHEN = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def _tags(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=300), st.text(max_size=600)), max_size=5),
    st.text(max_size=80),
)
def test_renderers_never_crash_and_data_never_becomes_markup(
    raw: list[tuple[str, str]], reason: str
) -> None:
    papers = tuple(Paper(clean(t) or "x", clean(a), source="s.txt") for t, a in raw)
    plain = tuple(Paper("x", "y" if p.abstract else "", source="s.txt") for p in papers)
    dumps = (Dump("s.txt", "0" * 64, papers),)

    def digest(ps: tuple[Paper, ...], why: str) -> Digest:
        return Digest(ps, rejected=(Rejected("bad.txt", why),), dumps=dumps, created=WHEN)

    hostile, harmless = digest(papers, clean(reason) or "r"), digest(plain, "r")
    assert _tags(render(hostile, "html")) == _tags(render(harmless, "html"))
    for fmt in ("text", "markdown"):
        out = render(hostile, fmt)
        assert out.count("\n## ") == render(harmless, fmt).count("\n## ")
    data = json.loads(render(hostile, "json"))
    assert [p["title"] for p in data["papers"]] == [p.title for p in papers]
