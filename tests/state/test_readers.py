"""The readers in the state, on every backend: every spelling of an address is one reader,
in a state written before addresses had one form too (kept under their Unicode domain, or
under two spellings as two readers)."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from digest.identity.decide import identify
from digest.models import Outgoing, Paper
from digest.state.protocol import StateStore

UNICODE, ASCII = "bob@exämple.org", "bob@xn--exmple-cua.org"


def as_before(location: object, keys: dict[int, str]) -> None:
    """Make the state what versions that compared addresses as written left: each reader
    (by id) kept under the key given, and no mark that keys were put in one form."""
    statements = [("UPDATE readers SET key = {} WHERE id = {}", (k, i)) for i, k in keys.items()]
    statements.append(("DELETE FROM service_state WHERE key = {}", ("reader_keys",)))
    if isinstance(location, Path):
        with contextlib.closing(sqlite3.connect(location)) as db, db:
            for sql, args in statements:
                db.execute(sql.format(*"?" * len(args)), args)
        return
    import psycopg

    with psycopg.connect(str(location)) as conn:
        for sql, args in statements:
            conn.execute(sql.format(*["%s"] * len(args)).encode(), args)


def _digest(reader: int, after: int, upto: int, message_id: str) -> Outgoing:
    return Outgoing(
        0,
        datetime(2026, 3, 10, tzinfo=UTC),
        "pending",
        message_id,
        "S",
        upto - after,
        {"text": "t"},
        reader=reader,
        after=after,
        upto=upto,
    )


def test_a_reader_kept_under_the_unicode_domain_is_the_reader_of_every_spelling(
    store: StateStore, location: object
) -> None:
    bob = store.join({UNICODE: None})[ASCII]
    store.set_prefs(bob.id, {"unsubscribed": True, "highlight": "agents"})
    as_before(location, {bob.id: UNICODE})
    for spelling in (ASCII, "Bob@EXÄMPLE.org.", UNICODE):
        found = store.join({spelling: None})
        assert list(found) == [ASCII]
        assert dataclasses.replace(found[ASCII], key=UNICODE) == dataclasses.replace(
            bob, prefs={"unsubscribed": True, "highlight": "agents"}, key=UNICODE
        )
    assert [r.key for r in store.all_readers()] == ["", ASCII]
    assert store.reader_by_token(bob.token or "") == found[ASCII]  # his links still work


def test_two_readers_of_one_mailbox_become_one_keeping_both_histories(
    store: StateStore, location: object
) -> None:
    """Older versions made two readers of one mailbox written two ways: they become the
    first of them, with the digests and likes of both, as far on as the furthest, and
    unsubscribed if either was (no spelling undoes an unsubscribe)."""
    papers = [identify(Paper(f"Paper {n}", f"abstract {n}", "d.txt")) for n in range(5)]
    first = store.join({UNICODE: None})[ASCII]
    store.record([], [], papers[:3])
    period = "daily@2026-03-10T07:00:00+00:00"
    [mine] = store.enqueue([_digest(first.id, 0, 3, "<a@x>")], period=period)
    store.set_prefs(first.id, {"unsubscribed": True})
    second = store.join({"later@example.org": None})["later@example.org"]
    store.record([], [], papers[3:])
    [theirs] = store.enqueue([_digest(second.id, 3, 5, "<b@x>")], period=period)
    store.like(second.id, [4], 1)
    store.set_prefs(second.id, {"interests": "robots"})
    as_before(location, {first.id: UNICODE, second.id: ASCII})

    [one] = store.join({ASCII: None}).values()
    assert (one.id, one.key, one.upto, one.token) == (first.id, ASCII, 5, first.token)
    assert one.prefs == {"unsubscribed": True, "interests": "robots"}
    assert [r.id for r in store.all_readers()] == [store.join({"": None})[""].id, first.id]
    assert [(i, v) for i, _, v in store.likes(first.id)] == [(4, 1)]
    outbox = store.outgoing(status="pending", bare=True)
    assert sorted((d.id, d.reader) for d in outbox) == [(mine.id, first.id), (theirs.id, first.id)]
    assert store.reader_outbox()[first.id]["pending"] == 2
