"""A dump that could not be read is named in the next digest delivered, once, on every
backend: named by a digest from when it is stored, told for good once that digest is
delivered, and untold again if it is refused for good. Several readers' digests stored at
once each move their own reader only, from where that reader still is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from digest.identity.decide import identify
from digest.models import Outgoing, Paper, Rejected
from digest.state.protocol import StateStore
from tests.state.test_readers import _digest as digest

T0 = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
BAD = Rejected("bad.txt", "not a listing")


def untold(store: StateStore) -> list[str]:
    return [rejected.file for rejected, _ in store.untold_rejections()]


def setup(store: StateStore, readers: int) -> list[int]:
    """Five papers at positions 1-5, a rejected dump (key "k1"), and readers at position 0."""
    keys = {f"r{n}@example.org": None for n in range(readers)}
    joined = store.join(keys)
    papers = [identify(Paper(f"Paper {n}", f"abstract {n}", "d.txt")) for n in range(5)]
    store.record([], [(BAD, "k1")], papers)
    return [joined[key].id for key in keys]


Step = Callable[[StateStore, list[int]], object]


def sent(n: int) -> Step:
    return lambda store, ids: store.mark_sent(ids[n], "mailed", at=T0)


def failed(n: int) -> Step:
    return lambda store, ids: store.mark_failed(ids[n], "550 no such user")


def retry(n: int) -> Step:
    return lambda store, ids: store.mark_retry(ids[n], "421 busy", T0 + timedelta(minutes=5))


def requeue(n: int) -> Step:
    return lambda store, ids: store.requeue(ids[n])


# Steps on two digests that both name the rejected dump when stored (the first at once, the
# second as the next run's), and whether the dump is still to be named after each.
LIFE: list[tuple[str, Step, bool]] = [
    ("attempted", lambda store, ids: store.attempt(ids[0], T0), False),
    ("retried", retry(0), False),
    ("refused", failed(0), True),
    ("resent", requeue(0), False),
    ("refused again", failed(0), True),
    ("delivered", sent(1), False),
    ("the other resent", requeue(0), False),
    ("the other refused", failed(0), False),  # told by the one delivered: for good
]


def test_a_rejected_dump_is_told_by_the_digest_delivered_and_only_then(
    store: StateStore,
) -> None:
    reader, other = setup(store, 2)
    assert untold(store) == ["bad.txt"]
    [first] = store.enqueue([digest(reader, 0, 5, "<a@x>")], told=["k1"])
    assert untold(store) == []  # named by a digest on its way
    ids = [first.id]
    for n, (what, step, still) in enumerate(LIFE):
        if what == "delivered":  # the next run's digest, stored while the dump is untold
            [second] = store.enqueue([digest(other, 0, 5, "<b@x>")], told=["k1"])
            ids.append(second.id)
        step(store, ids)
        assert untold(store) == (["bad.txt"] if still else []), (n, what)


def test_a_rejected_dump_no_stored_digest_names_stays_to_be_told(store: StateStore) -> None:
    [reader] = setup(store, 1)
    stale = digest(reader, 2, 5, "<a@x>")  # from a position the reader is not at
    assert store.enqueue([stale], told=["k1"]) == []
    assert untold(store) == ["bad.txt"]


# Three readers at 0; one call stores a digest for each, or moves each on with none. Each
# (after, upto) applies only where that reader still is: where they are after.
BATCHES: list[tuple[str, list[tuple[int, int]], list[int], list[bool]]] = [
    ("enqueue", [(0, 5), (0, 3), (0, 2)], [5, 3, 2], [True, True, True]),
    ("enqueue", [(2, 5), (0, 3), (0, 2)], [0, 3, 2], [False, True, True]),
    ("enqueue", [(0, 5), (1, 3), (0, 2)], [5, 0, 2], [True, False, True]),
    ("enqueue", [(0, 5), (0, 3), (4, 5)], [5, 3, 0], [True, True, False]),
    ("advance", [(0, 5), (0, 3), (0, 2)], [5, 3, 2], [False, False, False]),
    ("advance", [(2, 5), (0, 3), (1, 2)], [0, 3, 0], [False, False, False]),
]


def test_several_readers_move_on_at_once_each_from_where_they_are(store: StateStore) -> None:
    for n, (how, moves, at, stored) in enumerate(BATCHES):
        readers = [
            store.join({f"b{n}.{i}@example.org": None})[f"b{n}.{i}@example.org"] for i in range(3)
        ]
        base = store.end()
        papers = [
            identify(Paper(f"Row {n} paper {i}", f"abstract {n} {i}", "d.txt")) for i in range(5)
        ]
        store.record([], [], papers)
        if how == "enqueue":
            items: list[Outgoing] = [
                digest(r.id, base + after, base + upto, f"<b{n}.{r.id}@x>")
                for r, (after, upto) in zip(readers, moves, strict=True)
            ]
            made = store.enqueue(items, told=["k1"])
            assert [d.reader for d in made] == [
                r.id for r, kept in zip(readers, stored, strict=True) if kept
            ], BATCHES[n]
        else:
            store.advance(
                [(r.id, base + a, base + u) for r, (a, u) in zip(readers, moves, strict=True)]
            )
        now = store.join({f"b{n}.{i}@example.org": None for i in range(3)})
        assert [now[f"b{n}.{i}@example.org"].upto - base for i in range(3)] == at, BATCHES[n]
