"""The public digest's place in the state, on every backend: kept as delivered in the
transaction that moves the public reader on, so no worker ever takes it for delivery, and
kept once; each reader's delivered digests, theirs only, newest first."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from digest.identity.decide import identify
from digest.models import Outgoing, Paper
from digest.state.protocol import StateStore

NOW = datetime(2026, 3, 10, 7, tzinfo=UTC)


def digest(message_id: str, reader: int | None = None, after: int = 0, upto: int = 0) -> Outgoing:
    parts = {"html": "<p>hi</p>", "json": "{}"}
    made = Outgoing(0, NOW, "pending", message_id, "S", 2, parts)
    return dataclasses.replace(made, reader=reader, after=after, upto=upto)


def offer(store: StateStore, *titles: str) -> int:
    """Record these papers as a run's new ones; the position of the last."""
    store.record([], [], [identify(Paper(t, f"About {t}.")) for t in titles])
    return store.end()


def test_the_public_digest_is_kept_delivered_once_and_never_offered_to_a_worker(
    store: StateStore,
) -> None:
    public = store.join({"": None})[""]
    end = offer(store, "One", "Two")
    kept = store.publish(digest("<p1@x>"), public.upto, end, "archived", NOW)
    assert kept is not None
    found = store.get(kept)
    assert found is not None and found.status == "sent" and found.reader == public.id
    assert (found.after, found.upto, found.delivery_note) == (public.upto, end, "archived")
    assert found.parts == {"html": "<p>hi</p>", "json": "{}"}
    assert store.outgoing(status="pending") == [] and store.claim_due(NOW) is None
    assert store.join({"": None})[""].upto == end
    # From a position the public reader has left (another run published): nothing kept.
    assert store.publish(digest("<p2@x>"), public.upto, end, "archived", NOW) is None
    assert [d.id for d in store.recent(10)] == [kept]
    # Moved on with nothing to keep (no archive folder): the position alone.
    later = offer(store, "Three")
    assert store.publish(None, end, later, "", NOW) is None
    assert store.join({"": None})[""].upto == later
    assert [d.id for d in store.recent(10)] == [kept]
    assert store.counts()["papers_seen"] == 0  # shown to no reader by it


def test_a_readers_delivered_digests_are_theirs_newest_first(store: StateStore) -> None:
    readers = store.join({"ann@example.org": None, "bob@example.org": None})
    ann, bob = readers["ann@example.org"], readers["bob@example.org"]
    made = []
    for n in range(3):
        end = offer(store, f"Paper {n}")
        for reader in (ann, bob):
            item = digest(f"<{reader.key}-{n}@x>", reader.id, end - 1, end)
            made += store.enqueue([item])
    by = {(d.reader, d.message_id): d.id for d in made}
    for d in made[:-2]:  # the last of each stays pending
        store.mark_sent(d.id, "sent", NOW)
    assert store.delivered_to(ann.id, 10) == [by[ann.id, f"<{ann.key}-{n}@x>"] for n in (1, 0)]
    assert store.delivered_to(bob.id, 1) == [by[bob.id, f"<{bob.key}-1@x>"]]
    assert store.made_past(ann.id, 1) == [by[ann.id, f"<{ann.key}-{n}@x>"] for n in (1, 2)]
