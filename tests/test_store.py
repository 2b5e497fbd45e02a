"""The SQLite state file: migrations, WAL, permissions, recording and the outbox."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import Dump, Outgoing, Paper, Rejected
from digest.store import MIGRATIONS, Store


def _outgoing() -> Outgoing:
    return Outgoing(
        0, datetime(2025, 3, 12, tzinfo=UTC), "pending", "<m@x>", "S", 1, "<p>h</p>", "t", "m", "{}"
    )


def test_open_creates_owner_only_wal_file_and_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.sqlite3"
    with Store.open(path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with Store.open(path) as store:  # reopening applies nothing twice
        names = [r[0] for r in store.db.execute("SELECT name FROM migrations")]
    assert names == [m.__name__ for m in MIGRATIONS]


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot be used"):
        Store.open(path)


def test_record_lookup_and_outbox_lifecycle(tmp_path: Path) -> None:
    paper = Paper("A Paper", "abs", "d.txt", "Mar 12")
    dump = Dump("d.txt", "f" * 64, (paper,), "Mar 12")
    with Store.open(tmp_path / "s.db") as store:
        digest_id = store.record(
            [dump], [(Rejected("bad.txt", "why"), "e" * 64)], [(paper, ["t:a paper"])], _outgoing()
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


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    paper = Paper("A Paper", "abs", "d.txt")
    with Store.open(tmp_path / "s.db") as store:
        store.record([], [], [(paper, ["t:a paper"])], _outgoing())
        with pytest.raises(sqlite3.IntegrityError):  # same Message-ID twice
            store.record([], [], [(Paper("B", "b", "d.txt"), ["t:b"])], _outgoing())
        assert store.lookup(["t:b"]) == {}
        assert store.counts()["papers_pending"] == 1


def test_a_clock_turned_back_does_not_hold_a_retry_for_the_length_of_the_jump(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "s.db") as store:
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
from digest.store import Store
with Store.open(Path(sys.argv[1])) as store, store.lock():
    print("held", flush=True)
    sys.stdin.read()
"""


def test_the_run_lock_is_the_state_files_whatever_its_name(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from tests.processes import clean_env, digest_now

    inbox, state, alias = tmp_path / "inbox", tmp_path / "s.sqlite3", tmp_path / "alias.sqlite3"
    inbox.mkdir()
    Store.open(state).close()
    alias.symlink_to(state.name)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state)],
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
