"""Every question to the state is answered in full however much it asks, on every backend:
a state reads long lists a batch at a time, and a paper or a reader left out at a batch's
edge would be a paper shown twice, or a reader joined twice. Sizes either side of the
batches' edges, each exact."""

from __future__ import annotations

import pytest

from digest.identity.decide import identify
from digest.models import Paper
from digest.state.protocol import StateStore

SIZES = [1, 499, 500, 501, 1000, 1001, 1201]


def papers(n: int) -> list[Paper]:
    return [
        Paper(f"Paper number {i}", f"The abstract of paper number {i}. " * 4, "d.txt")
        for i in range(n)
    ]


@pytest.mark.slow
def test_every_paper_asked_about_is_found_however_many(store: StateStore) -> None:
    listed = [identify(p) for p in papers(max(SIZES))]
    store.record([], [], listed)
    assert store.counts()["papers_pending"] == max(SIZES)
    for size in SIZES:
        asked = [key for item in listed[:size] for key in item.keys]
        found = store.lookup(asked)
        assert set(found) == set(asked), size  # a title key and an abstract key each
        ids = {seen.id for seen in found.values()}
        assert len(ids) == size, size
        assert [p.title for p in store.stored(ids).values()] == [
            p.paper.title for p in listed[:size]
        ]
        assert sorted(store.titles(ids).values()) == sorted(p.paper.title for p in listed[:size])


def test_every_reader_joined_is_one_reader_however_many(store: StateStore) -> None:
    addresses = [f"reader{n}@example.org" for n in range(max(SIZES))]
    first = store.join(dict.fromkeys(addresses))
    assert len({r.id for r in first.values()}) == len(addresses)
    for size in SIZES:
        again = store.join(dict.fromkeys(addresses[:size]))
        assert {key: r.id for key, r in again.items()} == {
            key: first[key].id for key in addresses[:size]
        }, size
    assert [r.key for r in store.all_readers() if r.key] == addresses  # "": DIGEST_TO's
