"""The outbox's state machine on every backend, table by table: what each outcome does to a
digest (its status, attempts, retry time, error), how many attempts in a row ended with no
outcome recorded, when a digest is due, which papers a delivery makes seen, and what pruning
compacts. Each row is exact: a changed transition or bound fails a row."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from digest.identity.decide import identify
from digest.models import Outgoing, Paper
from digest.state import LONGEST_BACKOFF
from digest.state.protocol import StateStore

T0 = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
AGAIN = T0 + timedelta(minutes=1)  # the retry time an attempt sets, in case no outcome follows
LATER = T0 + timedelta(minutes=8)  # the retry time a failure for now sets
SECOND = timedelta(seconds=1)
MAILED = "mailed to 1 recipient"  # how a delivery says it went

Op = Callable[[StateStore, int], object]  # a step in a digest's life: attempt, sent, ...


def digest(n: int = 0) -> Outgoing:
    """A rendered digest as the outbox takes it, with its mail message."""
    return Outgoing(
        0,
        T0,
        "pending",
        f"<d{n}@example.org>",
        f"Digest {n}",
        1,
        {"html": f"<p>{n}</p>", "text": f"digest {n}"},
        eml=f"Message-ID: <d{n}@example.org>\r\n\r\ndigest {n}\r\n".encode(),
    )


def pending(store: StateStore, n: int = 0) -> int:
    """A new pending digest in the outbox, by id."""
    digest_id = store.record([], [], [], digest(n))
    assert digest_id is not None
    return digest_id


def attempt(store: StateStore, digest_id: int) -> object:
    return store.attempt(digest_id, AGAIN)


def retry(store: StateStore, digest_id: int) -> object:
    return store.mark_retry(digest_id, "421 busy", LATER)


def sent(store: StateStore, digest_id: int) -> object:
    return store.mark_sent(digest_id, MAILED, at=T0)


def failed(store: StateStore, digest_id: int) -> object:
    return store.mark_failed(digest_id, "550 no such user")


def requeue(store: StateStore, digest_id: int) -> object:
    return store.requeue(digest_id)


# What a digest is after these steps from pending: its status, attempts, retry time (while
# pending), last error, when it was sent and how (once sent), and what the next attempt
# returns: how many attempts in a row before it ended with no outcome recorded.
TRANSITIONS: list[tuple[tuple[Op, ...], tuple[object, ...], int]] = [
    ((), ("pending", 0, None, None, None, None), 0),
    ((attempt,), ("pending", 1, AGAIN, None, None, None), 1),
    ((attempt, attempt), ("pending", 2, AGAIN, None, None, None), 2),
    ((attempt, attempt, attempt), ("pending", 3, AGAIN, None, None, None), 3),
    ((attempt, retry), ("pending", 1, LATER, "421 busy", None, None), 0),
    ((attempt, attempt, retry), ("pending", 2, LATER, "421 busy", None, None), 0),
    ((attempt, retry, attempt), ("pending", 2, AGAIN, "421 busy", None, None), 1),
    ((retry,), ("pending", 1, LATER, "421 busy", None, None), 0),  # no attempt: counts as one
    ((retry, retry), ("pending", 2, LATER, "421 busy", None, None), 0),
    ((attempt, sent), ("sent", 1, None, None, T0, MAILED), 0),
    ((attempt, attempt, sent), ("sent", 2, None, None, T0, MAILED), 0),
    ((attempt, retry, attempt, sent), ("sent", 2, None, None, T0, MAILED), 0),
    ((sent,), ("sent", 1, None, None, T0, MAILED), 0),
    ((attempt, failed), ("failed", 1, None, "550 no such user", None, None), 0),
    ((attempt, attempt, failed), ("failed", 2, None, "550 no such user", None, None), 0),
    ((failed,), ("failed", 1, None, "550 no such user", None, None), 0),
    # `digest resend`: pending again, due at once, and its attempts in a row start afresh.
    ((attempt, failed, requeue), ("pending", 1, None, "550 no such user", None, None), 0),
    ((attempt, attempt, requeue), ("pending", 2, None, None, None, None), 0),
    ((attempt, retry, requeue), ("pending", 1, None, "421 busy", None, None), 0),
    ((attempt, sent, requeue), ("pending", 1, None, None, None, None), 0),
    ((attempt, sent, requeue, attempt, sent), ("sent", 2, None, None, T0, MAILED), 0),
]


def state_of(store: StateStore, digest_id: int) -> tuple[object, ...]:
    """What the outbox says of a digest, as TRANSITIONS lists it."""
    found = store.get(digest_id)
    assert found is not None
    shown = found.status == "sent"
    return (
        found.status,
        found.attempts,
        found.next_attempt if found.status == "pending" else None,
        found.last_error,
        found.sent_at if shown else None,
        found.delivery_note if shown else None,
    )


def test_each_outcome_moves_a_digest_exactly_so(store: StateStore) -> None:
    for n, (steps, expected, unrecorded) in enumerate(TRANSITIONS):
        digest_id = pending(store, n)
        for step in steps:
            step(store, digest_id)
        names = " ".join(step.__name__ for step in steps) or "nothing"
        assert state_of(store, digest_id) == expected, names
        assert store.attempt(digest_id, AGAIN) == unrecorded, names


# When a pending digest whose retry time is this far from the moment asked is due. A retry
# time further ahead than the longest backoff cannot have been set by this clock: it was
# turned back since, and the digest is due now rather than in however long the jump was.
DUE = [
    (None, True),  # never tried
    (-timedelta(days=1), True),
    (-SECOND, True),
    (timedelta(0), True),
    (SECOND, False),
    (timedelta(hours=1), False),
    (LONGEST_BACKOFF, False),
    (LONGEST_BACKOFF + SECOND, True),
    (timedelta(days=2), True),
]


def test_a_pending_digest_is_due_from_its_retry_time_on(store: StateStore) -> None:
    for n, (ahead, due) in enumerate(DUE):
        digest_id = pending(store, n)
        if ahead is not None:
            store.mark_retry(digest_id, "421 busy", T0 + ahead)
        listed = [d.id for d in store.outgoing(status="pending", due=T0)]
        assert listed == ([digest_id] if due else []), ahead
        assert [d.id for d in store.outgoing(status="pending", due=T0, bare=True)] == listed
        claimed = store.claim_due(T0)
        assert (claimed.id if claimed else None) == (digest_id if due else None), ahead
        # Without a moment (`digest now`), every pending digest is listed, due or not.
        assert [d.id for d in store.outgoing(status="pending")] == [digest_id]
        sent(store, digest_id)  # out of the way of the next row


def test_only_pending_digests_are_due_or_claimed(store: StateStore) -> None:
    ids = [pending(store, n) for n in range(4)]
    sent(store, ids[0])
    failed(store, ids[1])
    store.attempt(ids[2], T0 - SECOND)  # tried, its outcome unknown, and due again
    store.attempt(ids[3], T0 + SECOND)  # tried, its outcome unknown, not due yet
    assert [d.id for d in store.outgoing(status="pending", due=T0)] == [ids[2]]
    assert [d.id for d in store.outgoing(status="sent")] == [ids[0]]
    assert [d.id for d in store.outgoing(status="failed")] == [ids[1]]
    claimed = store.claim_due(T0)
    assert claimed is not None and claimed.id == ids[2]
    assert not store.claim(ids[0]) and not store.claim(ids[1])
    assert store.claim(ids[3])  # claimed by id, due or not (`digest resend`)


def test_an_attempt_left_with_no_outcome_is_due_again_at_the_time_it_set(
    store: StateStore,
) -> None:
    digest_id = pending(store)
    assert store.attempt(digest_id, AGAIN) == 0
    for moment, due in ((T0, False), (AGAIN - SECOND, False), (AGAIN, True)):
        assert [d.id for d in store.outgoing(status="pending", due=moment)] == (
            [digest_id] if due else []
        ), moment
        claimed = store.claim_due(moment)
        assert (claimed.id if claimed else None) == (digest_id if due else None), moment


def readers_digests(store: StateStore, papers: int, *cuts: int) -> list[int]:
    """`papers` new papers, and one reader's digests of them, from position 0 to each cut."""
    ann = store.join({"ann@example.org": None})["ann@example.org"]
    listed = [identify(Paper(f"Paper {n}", f"abstract {n}", "d.txt")) for n in range(papers)]
    store.record([], [], listed)
    made = []
    for n, (after, upto) in enumerate(zip((0, *cuts[:-1]), cuts, strict=True)):
        item = dataclasses.replace(digest(n), reader=ann.id, after=after, upto=upto)
        [stored] = store.enqueue([item])
        made.append(stored.id)
    return made


# Steps on a reader's two digests (positions 1-3 and 4-5), and the papers seen and still
# pending after each: a paper is seen once a digest that shows it is delivered, not before.
SEEN: list[tuple[Op, int, tuple[int, int]]] = [
    (attempt, 1, (0, 5)),
    (retry, 1, (0, 5)),
    (failed, 0, (0, 5)),
    (sent, 1, (2, 3)),
    (sent, 1, (2, 3)),  # told twice: counted once
    (requeue, 0, (2, 3)),
    (sent, 0, (5, 0)),
]


def test_the_papers_of_a_digest_are_seen_once_it_is_delivered_and_not_before(
    store: StateStore,
) -> None:
    ids = readers_digests(store, 5, 3, 5)
    for step, which, (seen, waiting) in SEEN:
        step(store, ids[which])
        counts = store.counts()
        assert (counts["papers_seen"], counts["papers_pending"]) == (seen, waiting), step.__name__


def test_prune_compacts_only_digests_sent_before_its_time_and_each_reads_back_the_same(
    store: StateStore,
) -> None:
    before = T0 - timedelta(days=30)
    ids = [pending(store, n) for n in range(6)]
    store.mark_sent(ids[0], "old", at=before - timedelta(days=1))
    store.mark_sent(ids[1], "old", at=before - SECOND)
    store.mark_sent(ids[2], "at the cut", at=before)
    store.mark_sent(ids[3], "new", at=before + SECOND)
    failed(store, ids[4])  # ids[5] stays pending
    kept = {i: store.get(i) for i in ids}
    assert store.prune(before) == 2
    assert store.prune(before) == 0  # compacted once
    for digest_id, was in kept.items():
        again = store.get(digest_id)
        assert again == was, digest_id
        assert again is not None and again.eml is not None and again.parts["text"]
    assert store.prune(T0) == 2  # the one sent at the cut, and the one after it
    assert [store.get(i) for i in ids] == [kept[i] for i in ids]
    assert [d.id for d in store.outgoing(status="pending")] == [ids[5]]
