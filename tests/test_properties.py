"""Property-based tests: the parser and the renderers never fail on arbitrary input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from html.parser import HTMLParser

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.formats import clean, parse
from digest.models import Digest, Dump, Paper, Rejected
from digest.render import render

WHEN = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)
fast = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(st.binary(max_size=4000))
@example(b"\xff\xfe\x00")  # a UTF-16 byte-order mark and half a character
@example(b"\xef\xbb\xbf")
@example(b"Title\n\n" + b"\x00" * 10)
def test_parse_arbitrary_bytes_never_crashes(data: bytes) -> None:
    try:
        dump = parse(data, "fuzz.txt")
    except ParseError as e:
        assert str(e).startswith("fuzz.txt") and "\n" not in str(e)
    else:
        assert dump.papers and all(p.title for p in dump.papers)


@fast
@given(st.text(max_size=3000))
def test_parse_arbitrary_text_never_crashes(text: str) -> None:
    for encoding in ("utf-8", "utf-16"):
        with contextlib.suppress(ParseError):
            parse(text.encode(encoding, "surrogatepass"), "fuzz.txt")


words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=12)
titles = st.lists(words, min_size=2, max_size=14).map(" ".join)
abstracts = st.lists(words, min_size=60, max_size=120).map(lambda w: " ".join(w) + ".")
headers = st.lists(
    st.sampled_from(
        ["new", "Subscribe", "Daily Papers", "byAK", "by AK and the research community"]
    ),
    max_size=5,
)


@fast
@given(
    st.lists(st.tuples(titles, abstracts), min_size=1, max_size=8),
    headers,
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.integers(min_value=1, max_value=4),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
@example([("0 DEC", "word " * 60)], [], "\n", 1, "utf-8")  # a title that looks like a date
def test_parse_recovers_every_listed_paper(
    papers: list[tuple[str, str]], header: list[str], newline: str, blanks: int, encoding: str
) -> None:
    gap = newline * (blanks + 1)
    text = gap.join([*header, *(part for pair in papers for part in pair)]) + newline
    dump = parse(text.encode(encoding, "surrogatepass"), "day.txt")
    expected = [(clean(t), clean(a)) for t, a in papers]
    assert [(p.title, p.abstract) for p in dump.papers] == expected


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


@fast
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
