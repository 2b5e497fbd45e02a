"""The readers' positions on every backend, table by table: where a reader joins (now, or
from a day with `since`), which papers lie after a position, and how a digest stored, or a
reader moved on with none, changes where they are: only from where they still are, so that
no paper is skipped for a reader and none comes to them twice."""

from __future__ import annotations

from datetime import date

from digest.identity.decide import identify
from digest.models import Paper
from digest.state.protocol import StateStore
from tests.state.test_readers import _digest as digest

# Five papers, at positions 1 to 5, by the day they were listed.
LISTED = ["2026-03-09", "2026-03-09", "2026-03-10", "2026-03-10", "2026-03-12"]


def catalogue(store: StateStore, name: str = "Paper") -> None:
    """Five papers listed on the days of LISTED, offered in that order."""
    papers = [
        identify(Paper(f"{name} {n}", f"abstract of {name} {n}", "d.json", listed=day))
        for n, day in enumerate(LISTED)
    ]
    store.record([], [], papers)


# A new reader's position: after every paper offered so far, or, with `since`, just before
# the first paper listed on or after that day (after every paper when none is).
JOINS = [
    (None, 5),
    (date(2026, 3, 1), 0),
    (date(2026, 3, 9), 0),
    (date(2026, 3, 10), 2),
    (date(2026, 3, 11), 4),
    (date(2026, 3, 12), 4),
    (date(2026, 3, 13), 5),
]


def test_a_new_reader_starts_now_or_from_the_papers_listed_since_their_day(
    store: StateStore,
) -> None:
    catalogue(store)
    assert store.end() == 5
    for n, (since, upto) in enumerate(JOINS):
        key = f"r{n}@example.org"
        assert store.join({key: since})[key].upto == upto, since
    # A reader the state knows stays where they are, whatever `since` says now.
    assert store.join({"r0@example.org": date(2026, 3, 1)})["r0@example.org"].upto == 5
    assert store.join({"r1@example.org": None})["r1@example.org"].upto == 0


OFFERED = [
    ((0, 5), [1, 2, 3, 4, 5]),
    ((0, 0), []),
    ((0, 1), [1]),
    ((2, 4), [3, 4]),
    ((4, 5), [5]),
    ((5, 5), []),
    ((5, 9), []),
]


def test_the_papers_offered_are_those_after_a_position_up_to_another(store: StateStore) -> None:
    catalogue(store)
    for (after, upto), positions in OFFERED:
        found = store.offered(after, upto)
        assert [seq for seq, _ in found] == positions, (after, upto)
        assert [p.title for _, p in found] == [f"Paper {n - 1}" for n in positions]


PERIOD = "daily@2026-03-10T07:00:00+00:00"

# A reader at position 3 (their digest of 1-3 stored for PERIOD), then one step: their
# digest from a position (enqueue, in a period) or a move with no digest (advance). Whether
# a digest is stored, where the reader is after, and the papers seen after.
STEPS: list[tuple[str, tuple[int, int], str | None, bool, int, int]] = [
    ("enqueue", (3, 5), None, True, 5, 0),
    ("enqueue", (3, 5), "daily@2026-03-11T07:00:00+00:00", True, 5, 0),
    ("enqueue", (3, 5), PERIOD, False, 3, 0),  # that period has its digest already
    ("enqueue", (0, 5), None, False, 3, 0),  # made from where they were: another run's
    ("enqueue", (2, 5), None, False, 3, 0),
    ("enqueue", (4, 5), None, False, 3, 0),
    ("advance", (3, 5), None, False, 5, 2),  # nothing for them: done with, as if shown
    ("advance", (0, 5), None, False, 3, 0),  # from before their digest: it owns 1-3
    ("advance", (0, 2), None, False, 3, 0),
    ("advance", (4, 5), None, False, 3, 0),
]


def test_a_reader_moves_on_only_from_where_they_are(store: StateStore) -> None:
    for n, (step, (after, upto), period, stored, at, seen) in enumerate(STEPS):
        key = f"r{n}@example.org"
        reader = store.join({key: None})[key]
        assert reader.upto == store.end()
        catalogue(store, f"Row {n}")
        base = reader.upto
        [first] = store.enqueue([digest(reader.id, base, base + 3, f"<p{2 * n}@x>")], period=PERIOD)
        assert store.join({key: None})[key].upto == base + 3
        was = store.counts()["papers_seen"]
        if step == "enqueue":
            item = digest(reader.id, base + after, base + upto, f"<p{2 * n + 1}@x>")
            made = store.enqueue([item], period=period)
            assert [(d.after, d.upto) for d in made] == (
                [(base + after, base + upto)] if stored else []
            ), STEPS[n]
        else:
            store.advance([(reader.id, base + after, base + upto)])
        assert store.join({key: None})[key].upto == base + at, STEPS[n]
        assert store.counts()["papers_seen"] - was == seen, STEPS[n]
        mine = store.outgoing(status="pending", bare=True)
        assert sorted((d.after, d.upto) for d in mine if d.reader == reader.id) == sorted(
            [(base, base + 3)] + ([(base + after, base + upto)] if stored else [])
        ), STEPS[n]
        store.mark_sent(first.id)


def test_a_paper_comes_back_from_the_catalogue_whole_and_its_text_is_stored_once(
    store: StateStore,
) -> None:
    from tests.realpapers import real_papers

    papers = list(real_papers()[:20])
    store.record([], [], [identify(p) for p in papers])
    back = [p for _, p in store.offered(0, store.end())]
    assert back == papers  # every field, in the order first offered
    rows = store.rows("SELECT title, abstract, data FROM papers")
    assert len(rows) == 20
    for title, abstract, data in rows:  # the data holds what the columns do not
        assert title not in data and abstract[:60] not in data
