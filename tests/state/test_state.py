"""The state through its protocol, against every backend: recording, the catalogue and its
counts, the outbox, service state and the run lock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import state
from digest.errors import ConfigError, StoreError
from digest.identity.decide import Identified, identify
from digest.identity.index import forget
from digest.identity.keys import Identity
from digest.models import Dump, Outgoing, Paper, Rejected
from digest.state import BACKENDS
from digest.state.protocol import StateStore
from tests.state import outgoing


def filed(paper: Paper, *keys: str) -> Identified:
    """A paper filed under exactly these keys (and no index entries)."""
    return Identified(paper, keys, (), Identity(paper.title, ""))


def test_a_failed_write_leaves_nothing_and_says_so_as_a_store_error(store: StateStore) -> None:
    """Whatever the backend, a write the database refuses is rolled back whole and reaches
    the caller as the state's own error, never the driver's."""
    store.record([], [], [filed(Paper("A Paper", "abs", "d.txt"), "t:a paper")], outgoing())
    with pytest.raises(StoreError, match="message_id"):  # the same Message-ID twice
        store.record([], [], [filed(Paper("B", "b", "d.txt"), "t:b")], outgoing())
    assert store.lookup(["t:b"]) == {}
    assert store.counts()["papers_pending"] == 1
    assert [p.title for _, p in store.offered(0, store.end())] == ["A Paper"]


def test_record_lookup_and_outbox_lifecycle(store: StateStore) -> None:
    paper = Paper("A Paper", "abs", "d.txt", "Mar 12")
    dump = Dump("d.txt", "f" * 64, (paper,), "Mar 12")
    digest_id = store.record(
        [dump],
        [(Rejected("bad.txt", "why"), "e" * 64)],
        [filed(paper, "t:a paper")],
        outgoing(),
    )
    assert digest_id is not None
    assert store.known_dumps(["f" * 64, "e" * 64, "0" * 64]) == {"f" * 64, "e" * 64}
    found = store.lookup(["t:a paper", "t:other"])
    assert list(found) == ["t:a paper"] and found["t:a paper"].first_dump == "d.txt"
    assert store.counts() == {"papers_seen": 0, "papers_pending": 1, "dumps": 1}
    assert [o.id for o in store.outgoing(status="pending")] == [digest_id]

    store.mark_retry(digest_id, "server down", datetime.now(UTC) + timedelta(minutes=5))
    assert store.outgoing(status="pending", due=datetime.now(UTC)) == []
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert [o.attempts for o in store.outgoing(status="pending", due=later)] == [1]

    store.mark_sent(digest_id)
    assert store.counts()["papers_seen"] == 1
    assert store.get(digest_id).status == "sent"  # type: ignore[union-attr]
    assert store.rejected_dumps() == [Rejected("bad.txt", "why")]


def test_the_attempt_is_recorded_before_and_its_outcome_after(store: StateStore) -> None:
    """An attempt counts once, is due again only after its time when no outcome follows,
    and the attempts in a row that ended with no outcome recorded are told."""
    digest_id = store.record([], [], [], outgoing())
    assert digest_id is not None
    moment = datetime.now(UTC)
    later = moment + timedelta(minutes=1)
    assert store.attempt(digest_id, later) == 0
    assert store.outgoing(status="pending", due=moment) == []
    [item] = store.outgoing(status="pending", due=later)
    assert item.attempts == 1 and item.next_attempt == later.replace(microsecond=0)
    assert store.attempt(digest_id, later) == 1  # the first ended with nothing recorded
    assert store.attempt(digest_id, later) == 2
    store.mark_retry(digest_id, "421 later", later)

    def attempts() -> int:
        found = store.get(digest_id)
        assert found is not None
        return found.attempts

    assert attempts() == 3  # an outcome ends the attempt: it counts no other
    assert store.attempt(digest_id, later) == 0
    store.mark_sent(digest_id)
    assert attempts() == 4
    store.requeue(digest_id)
    store.attempt(digest_id, later)
    store.requeue(digest_id)  # a resend starts afresh
    assert store.attempt(digest_id, later) == 0
    store.mark_failed(digest_id, "550 no")
    assert attempts() == 6
    store.mark_failed(digest_id, "550 no")  # recorded without an attempt: counts as one
    assert attempts() == 7


def test_a_clock_turned_back_does_not_hold_a_retry_for_the_length_of_the_jump(
    store: StateStore,
) -> None:
    digest_id = store.record([], [], [], outgoing())
    assert digest_id is not None
    store.mark_retry(digest_id, "down", datetime.now(UTC) + timedelta(minutes=30))
    now = datetime.now(UTC)
    assert store.outgoing(status="pending", due=now) == []  # backing off
    turned_back = now - timedelta(days=2)
    assert [o.id for o in store.outgoing(status="pending", due=turned_back)] == [digest_id]


HOLDER = """
import sys
from pathlib import Path
from digest.state import open as open_state
with open_state(Path(sys.argv[1])) as store, store.lock():
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.mark.slow
def test_the_run_lock_is_the_state_files_whatever_its_name(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from tests.processes import clean_env, digest_now

    inbox, path, alias = tmp_path / "inbox", tmp_path / "s.sqlite3", tmp_path / "alias.sqlite3"
    inbox.mkdir()
    state.open(path).close()
    alias.symlink_to(path.name)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        waiting = subprocess.Popen(digest_now(inbox, alias, "--quiet"), env=clean_env())
        time.sleep(2)  # a run with nothing to do ends in a fraction of that, unless it waits
        assert waiting.poll() is None, "a run under another name did not wait for the lock"
        holder.stdin.close()
        assert waiting.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        if not holder.stdin.closed:
            holder.stdin.close()


def test_every_backend_is_tested_and_opens_to_the_protocol(store: StateStore) -> None:
    from tests.conftest import LOCATIONS

    assert set(LOCATIONS) == set(BACKENDS)
    assert isinstance(store, StateStore)


def test_every_role_is_written_once_whatever_the_backend(store: StateStore) -> None:
    """What a store answers and records is the roles' (digest.state.roles), the same code on
    every backend: a backend adds its connection, locks and claims, and writes no role."""
    import inspect

    from digest.state.dialect import Part
    from digest.state.roles import Roles

    backend = type(store).__module__
    connection = set(vars(Part))  # what a backend gives the roles
    asked = [
        name
        for name, _ in inspect.getmembers(Roles, inspect.isfunction)
        if not name.startswith("_") and name not in connection
    ]
    assert (
        len(asked) > 30
    )  # every role: dumps read, catalogue, readers, outbox, chats, the public digest, service
    written = {name: getattr(type(store), name).__module__ for name in asked}
    assert backend not in set(written.values()), written
    assert {m.rpartition(".")[2] for m in written.values()} == {
        "dumps",
        "catalogue",
        "readers",
        "outbox",
        "chats",
        "published",
        "roles",
    }


def test_a_plain_path_and_a_sqlite_url_open_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with state.open(path) as one:
        one.set_service_state(pid="1")
    with state.open(f"sqlite://{path}") as two:
        assert two.service_state() == {"pid": "1"}


def test_an_unknown_scheme_is_one_line_naming_the_backends_without_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        state.open("mysql://me:hunter2@db.example.org/digest")
    assert str(caught.value) == (
        "state mysql://me:***@db.example.org/digest: no backend for mysql://;"
        " use a path or one of postgresql, sqlite"
    )


def test_a_server_that_cannot_be_reached_is_one_line_without_the_password() -> None:
    from digest.state import location

    url = location(f"postgresql://me:hunter2@127.0.0.1:{_closed_port()}/db?password=hunter2")
    assert "hunter2" not in f"{url} {url!r}"
    with pytest.raises(StoreError) as caught:
        state.open(url)
    message = str(caught.value)
    assert (
        message.startswith("state postgresql://me:***@127.0.0.1:") and "cannot be opened" in message
    )
    assert "hunter2" not in message and "\n" not in message


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on leaving: nothing listens there


def test_a_dump_is_recorded_once_whoever_records_it(location: object) -> None:
    """Two stores of one state (two processes): the second run that would offer a dump's
    papers again records nothing, on every backend."""
    paper = Paper("A Paper", "abs", "d.txt", "Mar 12")
    dump = Dump("d.txt", "f" * 64, (paper,), "Mar 12")
    with state.open(location) as one, state.open(location) as two:  # type: ignore[arg-type]
        one.record([dump], [], [filed(paper, "t:a paper")], seen=True)
        with pytest.raises(StoreError, match=r"d\.txt was recorded by another digest run"):
            two.record([dump], [], [filed(paper, "t:a paper")], outgoing())
        assert two.counts() == {"papers_seen": 1, "papers_pending": 0, "dumps": 1}
        assert two.recent() == []


def test_a_digest_is_claimed_by_one_worker_until_it_is_done_with_it(location: object) -> None:
    with (
        state.open(location) as one,  # type: ignore[arg-type]
        state.open(location) as two,  # type: ignore[arg-type]
        state.open(location) as three,  # type: ignore[arg-type]
    ):
        first = one.record([], [], [], outgoing())
        second = one.record([], [], [], replace(outgoing(), message_id="<n@x>"))
        now = datetime.now(UTC)
        taken = one.claim_due(now)
        assert taken is not None and taken.id == first and taken.message_id == "<m@x>"
        other = two.claim_due(now)  # the one held is skipped, not waited for
        assert other is not None and other.id == second
        assert three.claim_due(now) is None
        assert not three.claim(first) and not three.claim(second)
        one.mark_sent(first)
        assert one.claim_due(now) is None  # done with the first; the second is held
        assert not three.claim(first)  # sent: nothing to claim
        two.close()  # a worker that stops lets go
        again = three.claim_due(now)
        assert again is not None and again.id == second and again.message_id == "<n@x>"
        assert three.claim(second)  # asking again for the one it holds


# A worker in a process of its own: claims one digest, says so, then delivers for ever.
CLAIMER = """
import sys, time
from digest import state
with state.open(sys.argv[1]) as store:
    print("claimed" if store.claim(int(sys.argv[2])) else "refused", flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
def test_a_claim_ends_at_once_with_the_process_that_holds_it(location: object) -> None:
    import signal
    import subprocess
    import sys
    import time

    with state.open(location) as store:  # type: ignore[arg-type]
        digest_id = store.record([], [], [], outgoing())
        assert digest_id is not None
        argv = [sys.executable, "-c", CLAIMER, str(location), str(digest_id)]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as holder:
            try:
                assert holder.stdout is not None and holder.stdout.readline() == "claimed\n"
                time.sleep(0.5)
                assert store.claim_due(datetime.now(UTC)) is None and not store.claim(digest_id)
                holder.send_signal(signal.SIGKILL)
                holder.wait()
                killed = time.monotonic()
                while not store.claim(digest_id):
                    assert time.monotonic() - killed < 2, "the dead worker's claim is still held"
                    time.sleep(0.02)
            finally:
                holder.kill()


def test_one_process_leads_and_the_lead_is_let_go_on_closing(location: object) -> None:
    with state.open(location) as one, state.open(location) as two:  # type: ignore[arg-type]
        assert not two.serving()
        assert not one.still_leading()
        assert one.lead() and one.still_leading()
        assert not two.lead() and two.serving() and not two.still_leading()
        one.close()
        assert two.lead() and two.still_leading()


def test_counts_follow_every_write_of_papers(store: StateStore) -> None:
    papers = [Paper(f"Paper {n}", "", "d.txt") for n in range(5)]
    first = store.record([], [], [identify(p) for p in papers[:2]], outgoing())
    assert first is not None
    store.record([], [], [identify(p) for p in papers[2:]], seen=True)
    assert store.counts() == {"papers_seen": 3, "papers_pending": 2, "dumps": 0}
    store.mark_sent(first)
    store.mark_sent(first)  # told twice: counted once
    assert store.counts() == {"papers_seen": 5, "papers_pending": 0, "dumps": 0}
    forgotten = forget(store, [1, 4, 99])
    assert [p.title for p in forgotten] == ["Paper 0", "Paper 3"]
    assert store.counts() == {"papers_seen": 3, "papers_pending": 0, "dumps": 0}


def test_service_state_is_set_replaced_and_removed(store: StateStore) -> None:
    store.set_service_state(pid="12", next_run="2026-03-01T07:00:00+00:00")
    store.set_service_state(pid="13", next_run=None)
    assert store.service_state() == {"pid": "13"}


def test_the_catalogue_answers_postings_titles_and_removal(store: StateStore) -> None:
    a, b = identify(Paper("Adding Gradient Noise", "", "d.txt")), identify(Paper("Other", ""))
    store.record([], [], [a, b], seen=True)
    shared = a.grams[0]
    assert store.postings([shared, 12345], 10) == {shared: [1], 12345: []}
    assert store.titles([2, 1, 7]) == {1: "Adding Gradient Noise", 2: "Other"}
    assert list(store.all_titles()) == [{1: "Adding Gradient Noise", 2: "Other"}]
    assert store.stored([2])[2].seen.first_dump == ""
    store.remove([(1, a.grams)])
    assert store.postings([shared], 10) == {shared: []} and store.lookup(a.keys) == {}


def test_a_reader_likes_and_dislikes_papers_and_changes_their_mind(store: StateStore) -> None:
    papers = [identify(Paper(f"Paper {n}", f"abstract {n}", "d.txt")) for n in range(3)]
    store.record([], [], papers)
    ann = store.join({"ann@example.org": None})["ann@example.org"]
    store.like(ann.id, [1, 2], 1)
    store.like(ann.id, [3], -1)
    store.like(ann.id, [2], -1)  # changed their mind
    assert sorted((i, p.title, v) for i, p, v in store.likes(ann.id)) == [
        (1, "Paper 0", 1),
        (2, "Paper 1", -1),
        (3, "Paper 2", -1),
    ]
    store.like(ann.id, [3], 0)
    assert [i for i, _, _ in store.likes(ann.id)] == [1, 2]
    bob = store.join({"bob@example.org": None})["bob@example.org"]
    assert store.likes(bob.id) == []


def test_reader_counts_say_who_paused_or_unsubscribed_on_their_own(store: StateStore) -> None:
    # The one reader of DIGEST_TO, whom every state has, is not a reader of a readers file.
    assert store.reader_counts() == {"readers": 0, "paused": 0, "unsubscribed": 0}
    joined = store.join({f"r{n}@example.org": None for n in range(6)})
    ids = [joined[f"r{n}@example.org"].id for n in range(6)]
    store.set_prefs(ids[0], {"paused": True})
    store.set_prefs(ids[1], {"paused": True, "highlight": "agents"})
    store.set_prefs(ids[2], {"unsubscribed": True, "paused": True})  # counted once
    store.set_prefs(ids[3], {"paused": False, "interests": "robots"})
    store.set_prefs(ids[4], {"unsubscribed": False})
    store.set_prefs(store.join({"": None})[""].id, {"paused": True})
    assert store.reader_counts() == {"readers": 6, "paused": 2, "unsubscribed": 1}
    store.set_prefs(ids[0], {})  # resumed
    assert store.reader_counts() == {"readers": 6, "paused": 1, "unsubscribed": 1}


def test_a_readers_digest_is_stored_once_a_period_and_only_from_where_they_are(
    store: StateStore,
) -> None:
    import dataclasses

    papers = [identify(Paper(f"Paper {n}", f"abstract {n}", "d.txt")) for n in range(4)]
    ann = store.join({"ann@example.org": None})["ann@example.org"]
    store.record([], [], papers)
    assert store.end() == 4 and [p.title for _, p in store.offered(0, 4)][:2] == [
        "Paper 0",
        "Paper 1",
    ]
    item = dataclasses.replace(outgoing(), reader=ann.id, after=0, upto=4)
    [stored] = store.enqueue([item], period="daily@2026-03-10T07:00:00+00:00")
    assert (stored.reader, stored.after, stored.upto) == (ann.id, 0, 4)
    # The same period again (a second leader): left out, and the reader stays where they are.
    again = dataclasses.replace(item, message_id="<m2@x>", after=4, upto=4)
    assert store.enqueue([again], period="daily@2026-03-10T07:00:00+00:00") == []
    # From a position the reader has moved past (another run made it): left out.
    stale = dataclasses.replace(item, message_id="<m3@x>")
    assert store.enqueue([stale], period="daily@2026-03-11T07:00:00+00:00") == []
    assert store.join({"ann@example.org": None})["ann@example.org"].upto == 4
    assert [o.id for o in store.outgoing(status="pending")] == [stored.id]
    store.mark_sent(stored.id)
    assert store.counts()["papers_seen"] == 4


def test_readers_who_get_the_same_digest_share_one_rendering_and_each_reads_back_theirs(
    store: StateStore,
) -> None:
    """The outbox keeps a rendering once for all its readers and each reader's own To,
    Message-ID and token: what it gives back is each reader's message, byte for byte, before
    and after the rendering is packed."""
    import dataclasses
    import secrets
    from email.headerregistry import Address

    from digest import envelope

    marks = envelope.Marks.new()
    ident = marks.message_id("example.org")
    letter = Outgoing(
        0,
        datetime(2025, 3, 12, tzinfo=UTC),
        "pending",
        ident,
        "S",
        2,
        {"html": f"<a href='/u/{marks.token}'>u</a>", "text": f"u/{marks.token}"},
        eml=(
            f"Message-ID: {ident}\r\nList-Unsubscribe: <https://x.org/u/{marks.token}>\r\n"
            f"\r\nUnsubscribe: https://x.org/u/{marks.token}\r\n"
        ).encode(),
    )
    papers = [identify(Paper(f"Paper {n}", f"abstract {n}", "d.txt")) for n in range(2)]
    readers = store.join({"ann@example.org": None, "bob@example.org": None})
    store.record([], [], papers)
    made = [
        dataclasses.replace(
            envelope.addressed(
                letter,
                marks,
                to=(Address(addr_spec=key),),
                ident=envelope.ident(),
                token=secrets.token_hex(16),
            ),
            reader=reader.id,
            after=0,
            upto=2,
        )
        for key, reader in readers.items()
    ]
    stored = store.enqueue(made)
    kept = store.outgoing(status="pending")
    assert [k.id for k in kept] == [s.id for s in stored] and len(kept) == 2
    for item, mine in zip(made, kept, strict=True):
        assert (mine.message_id, mine.parts, mine.eml) == (item.message_id, item.parts, item.eml)
        assert mine.eml is not None and mine.eml.startswith(b"To: ")
        assert marks.token not in mine.part("text") and marks.token.encode() not in mine.eml
    assert kept[0].eml != kept[1].eml
    # The rendering is compacted once every digest made from it was sent, not before.
    first, second = stored
    cut = datetime(2025, 3, 13, tzinfo=UTC)
    store.mark_sent(first.id, at=datetime(2025, 3, 12, tzinfo=UTC))
    assert store.prune(cut) == 0  # the other is still on its way
    store.mark_failed(second.id, "550 no such user")
    assert store.prune(cut) == 0  # and may be sent again
    store.requeue(second.id)
    store.mark_sent(second.id, at=cut)
    assert store.prune(cut) == 0  # sent at the time given, not before it
    assert store.prune(cut + timedelta(seconds=1)) == 0  # the rendering was stored packed
    again = [store.get(item.id) for item in stored]
    assert [(a.parts, a.eml) for a in again if a] == [(m.parts, m.eml) for m in made]


def test_a_runs_renderings_are_stored_against_its_base_and_read_back_whole(
    store: StateStore,
) -> None:
    """Each reader's rendering repeats the run's papers in their own order: stored against
    the run's base rendering (kept once), it takes a small part of what it takes alone, and
    reads back byte for byte, also once the base is no longer among those last used."""
    import dataclasses
    import lzma
    import random
    import secrets
    from email.headerregistry import Address

    from digest import envelope
    from digest.models import Base
    from digest.state.packing import KNOWN, raw

    rng = random.Random(5)
    words = [secrets.token_hex(3) for _ in range(400)]
    blocks = [" ".join(rng.choices(words, k=120)) + "\n" for _ in range(40)]
    runs = range(KNOWN + 2)  # more runs than bases kept at hand
    readers = store.join({f"r{run}-{n}@example.org": None for run in runs for n in range(2)})
    papers = [identify(Paper(f"Paper {n}", f"abstract {n}", "d.txt")) for n in range(2)]
    store.record([], [], papers)
    made, sizes = [], []
    for run in runs:
        base = Base(secrets.token_hex(20), {"text": "".join(blocks)}, "".join(blocks).encode())
        for n in range(2):
            key, reader = f"r{run}-{n}@example.org", readers[f"r{run}-{n}@example.org"]
            marks = envelope.Marks.new()
            shown = rng.sample(blocks, 30)
            text = f"{n}. u/{marks.token}\n" + "".join(f"{i}. {b}" for i, b in enumerate(shown))
            letter = Outgoing(
                0,
                datetime(2025, 3, 12, tzinfo=UTC),
                "pending",
                marks.message_id("example.org"),
                "S",
                30,
                {"text": text},
                eml=text.encode(),
            )
            sizes.append(len(lzma.compress(raw(letter.parts, letter.eml), preset=1)))
            item = envelope.addressed(
                letter,
                marks,
                to=(Address(addr_spec=key),),
                ident=envelope.ident(),
                token=secrets.token_hex(16),
                base=base,
            )
            made.append(dataclasses.replace(item, reader=reader.id, after=0, upto=2))
    stored = store.enqueue(made)
    kept = {k.id: k for k in store.outgoing(status="pending")}
    for item, mine in zip(made, stored, strict=True):
        assert (kept[mine.id].parts, kept[mine.id].eml) == (item.parts, item.eml)
    rows = store.rows("SELECT length(packed) AS n, base FROM letters")
    against = [r["n"] for r in rows if r["base"]]
    assert len(against) == len(made) and len(rows) == len(made) + KNOWN + 2  # a base a run
    assert sum(against) * 4 < sum(sizes)  # alone, each keeps all its words again
    first = store.get(stored[0].id)  # its base read from the state again
    assert first is not None and (first.parts, first.eml) == (made[0].parts, made[0].eml)


def test_the_outbox_is_listed_bare_without_renderings_or_messages(store: StateStore) -> None:
    """A bare listing says what a digest is (its status, when, how many papers, its reader)
    and reads none of what it holds: the same digests as the full listing."""
    import dataclasses

    item = dataclasses.replace(outgoing(), eml=b"Subject: S\r\n\r\nbody\r\n")
    digest_id = store.record([], [], [], item)
    assert digest_id is not None
    [full] = store.outgoing(status="pending")
    [bare] = store.outgoing(status="pending", bare=True)
    assert bare == dataclasses.replace(full, parts={}, eml=None)
    assert full.parts and full.eml
    assert store.recent(bare=True) == [bare]
    store.mark_failed(digest_id, "550 no such user")
    assert [d.last_error for d in store.outgoing(status="failed", bare=True)] == [
        "550 no such user"
    ]
