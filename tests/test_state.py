"""The state through its protocol, against every backend: recording, the catalogue and its
counts, the outbox, service state and the run lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import state
from digest.errors import StoreError
from digest.identity.decide import Identified, identify
from digest.identity.index import forget
from digest.identity.keys import Identity
from digest.models import Dump, Outgoing, Paper, Rejected
from digest.state import BACKENDS
from digest.state.protocol import StateStore


def filed(paper: Paper, *keys: str) -> Identified:
    """A paper filed under exactly these keys (and no index entries)."""
    return Identified(paper, keys, (), Identity(paper.title, ""))


def _outgoing() -> Outgoing:
    return Outgoing(
        0, datetime(2025, 3, 12, tzinfo=UTC), "pending", "<m@x>", "S", 1, "<p>h</p>", "t", "m", "{}"
    )


def test_record_lookup_and_outbox_lifecycle(store: StateStore) -> None:
    paper = Paper("A Paper", "abs", "d.txt", "Mar 12")
    dump = Dump("d.txt", "f" * 64, (paper,), "Mar 12")
    digest_id = store.record(
        [dump],
        [(Rejected("bad.txt", "why"), "e" * 64)],
        [filed(paper, "t:a paper")],
        _outgoing(),
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


def test_a_clock_turned_back_does_not_hold_a_retry_for_the_length_of_the_jump(
    store: StateStore,
) -> None:
    digest_id = store.record([], [], [], _outgoing())
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
    from conftest import LOCATIONS

    assert set(LOCATIONS) == set(BACKENDS)
    assert isinstance(store, StateStore)


def test_a_plain_path_and_a_sqlite_url_open_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with state.open(path) as one:
        one.set_service_state(pid="1")
    with state.open(f"sqlite://{path}") as two:
        assert two.service_state() == {"pid": "1"}


def test_an_unknown_scheme_is_one_line_naming_the_backends(tmp_path: Path) -> None:

    with pytest.raises(
        StoreError, match=r"no backend for postgresql://; use a path or one of sqlite"
    ):
        state.open("postgresql://db.example.org/digest")


def test_counts_follow_every_write_of_papers(store: StateStore) -> None:
    papers = [Paper(f"Paper {n}", "", "d.txt") for n in range(5)]
    first = store.record([], [], [identify(p) for p in papers[:2]], _outgoing())
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
