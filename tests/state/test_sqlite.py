"""The SQLite state file: created owner-only in WAL mode, migrated once (old files too); refused
or repaired with one line: damaged, foreign, newer, exposed, changed under the service, with
odd times in it; and the outbox kept small."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import pipeline
from digest.errors import StoreError
from digest.identity.decide import Identified, decide, identify
from digest.identity.keys import Identity, keys
from digest.models import Paper
from digest.state import open as open_state
from digest.state.migrations import run as run_step
from digest.state.migrations import steps
from tests.processes import clean_env, run_digest


def _m001_initial(db: sqlite3.Connection) -> None:
    run_step(db, steps("sqlite")[0][1])  # type: ignore[arg-type]


def filed(paper: Paper, *keys: str) -> Identified:
    """A paper filed under exactly these keys (and no index entries)."""
    return Identified(paper, keys, (), Identity(paper.title, ""))


def digest(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process, on tmp_path/s.sqlite3."""
    return run_digest(tmp_path, *argv, env=env)


def made(tmp_path: Path, inbox: Path, seed: Path) -> Path:
    """A state file with one digest delivered as files."""
    shutil.copy(seed, inbox)
    done = digest(tmp_path, "now", "--inbox", str(inbox), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    return tmp_path / "s.sqlite3"


def checkpointed(state: Path) -> bytes:
    with contextlib.closing(sqlite3.connect(state)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return state.read_bytes()


def one_line_error(run: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def corrupt_page(state: Path, table: str) -> None:
    """Overwrite the root page of one table or index with garbage."""
    with contextlib.closing(sqlite3.connect(state)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    with state.open("r+b") as f:
        f.seek((root[0] - 1) * page_size)
        f.write(bytes((i * 37 + 11) % 256 for i in range(page_size)))


@pytest.mark.parametrize("table", ["papers", "paper_keys", "digests"])
@pytest.mark.slow
def test_a_damaged_state_file_is_refused_with_one_line_and_left_as_it_is(
    tmp_path: Path, inbox: Path, seeds: list[Path], table: str
) -> None:
    state = made(tmp_path, inbox, seeds[0])
    checkpointed(state)
    corrupt_page(state, table)
    before = state.read_bytes()
    shutil.copy(seeds[1], inbox)
    for argv in (["status"], ["now", "--inbox", str(inbox)], ["seen", "gradient"]):
        one_line_error(digest(tmp_path, *argv), str(state), "keep the file as it is")
    assert state.read_bytes() == before
    assert (
        not (tmp_path / "s.sqlite3-wal").exists() or not (tmp_path / "s.sqlite3-wal").stat().st_size
    )


@pytest.mark.slow
def test_a_state_file_of_a_newer_digest_is_refused(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    state = made(tmp_path, inbox, seeds[0])
    with contextlib.closing(sqlite3.connect(state)) as db:
        db.execute("INSERT INTO migrations VALUES ('_m900_from_the_future', '2030-01-01')")
        db.commit()
    before = checkpointed(state)
    shutil.copy(seeds[1], inbox)
    for argv in (["status"], ["now", "--inbox", str(inbox)]):
        one_line_error(
            digest(tmp_path, *argv), "newer version of digest", "_m900_from_the_future", "upgrade"
        )
    assert checkpointed(state) == before


def test_an_sqlite_file_of_another_program_is_refused_and_not_touched(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    state = tmp_path / "s.sqlite3"
    with contextlib.closing(sqlite3.connect(state)) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO customers (name) VALUES ('Ann')")
        db.commit()
    state.chmod(0o600)
    before = state.read_bytes()
    shutil.copy(seeds[0], inbox)
    for argv in (["now", "--inbox", str(inbox)], ["status"]):
        one_line_error(digest(tmp_path, *argv), "another program", "customers", "DIGEST_STATE")
    assert state.read_bytes() == before
    with contextlib.closing(sqlite3.connect(state)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"customers"}


@pytest.mark.slow
def test_a_state_file_others_can_read_is_warned_about(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    state = made(tmp_path, inbox, seeds[0])
    assert "other users" not in digest(tmp_path, "status").stderr  # created owner-only
    state.chmod(0o644)
    run = digest(tmp_path, "status")
    assert run.returncode == 0
    assert f"state file {state} can be read by other users (mode 644); run: chmod 600" in run.stderr


@pytest.mark.slow
def test_garbage_and_far_future_times_in_the_state_cost_only_themselves(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    state = made(tmp_path, inbox, seeds[0])
    with open_state(state) as store:
        store.set_service_state(
            started_at="9999-12-31T23:59:59+00:00",
            done_until="9999-12-31T23:59:59+00:00",
            last_run="not a time",
        )
    with contextlib.closing(sqlite3.connect(state)) as db:
        db.execute("UPDATE digests SET created_at = 'garbage', sent_at = '9999-01-01'")
        db.execute("UPDATE papers SET first_seen = '\x1b[2J'")
        db.commit()
    status = digest(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr
    assert "where a time should be; taken as no time" in status.stderr
    assert "\x1b" not in status.stderr
    seen = digest(tmp_path, "seen", "gradient")
    assert "Traceback" not in seen.stderr
    # The service starts on it, and takes the far-future catch-up time as none.
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--state", str(state)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(
                DIGEST_INBOX=str(inbox),
                DIGEST_OUT=str(tmp_path / "out"),
                DIGEST_SCHEDULE="every 1h",
                DIGEST_TIMEZONE="UTC",
                DIGEST_POLL_SECONDS="0.2",
            ),
            cwd=tmp_path,
        )
    try:
        wait_for(lambda: "serving:" in log.read_text(), 20, log)
    finally:
        proc.terminate()
        assert proc.wait(20) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def wait_for(condition: object, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out; the log:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_wal_file_deleted_under_the_service_is_said_and_recovered_from(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    state, out = tmp_path / "s.sqlite3", tmp_path / "out"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--state", str(state)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_env(
                DIGEST_INBOX=str(inbox),
                DIGEST_OUT=str(out),
                DIGEST_SCHEDULE="every 1s",
                DIGEST_TIMEZONE="UTC",
                DIGEST_POLL_SECONDS="0.2",
            ),
            cwd=tmp_path,
        )
    try:
        wait_for(lambda: "serving:" in log.read_text(), 20, log)
        wal = tmp_path / "s.sqlite3-wal"
        wait_for(wal.exists, 10, log)
        wal.unlink()
        shutil.copy(seeds[0], inbox)
        wait_for(lambda: "changed under the service" in log.read_text(), 20, log)
        wait_for(lambda: len(list(out.glob("*.json"))) == 1, 20, log)
    finally:
        proc.terminate()
        proc.wait(20)
    text = log.read_text()
    assert "Traceback" not in text
    papers = json.loads(next(out.glob("*.json")).read_text())["papers"]
    assert len(papers) > 10
    status = digest(tmp_path, "status")
    assert status.returncode == 0 and "papers seen: " in status.stdout


@pytest.mark.slow
def test_sent_digests_are_compressed_after_keep_days_and_resend_the_same(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    state = made(tmp_path, inbox, seeds[0])
    first = {p.suffix: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    # A digest's rendering is kept once, as a letter, however many readers it is for, and
    # compressed as it is stored: a fifth of its size at most.
    from digest.state.rows import unpack

    with contextlib.closing(sqlite3.connect(state)) as db:
        [(packed, parts, eml)] = db.execute("SELECT packed, parts, eml FROM letters").fetchall()
        old = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
        db.execute("UPDATE digests SET sent_at = ? WHERE id = 1", (old,))
        db.commit()
    assert parts is None and eml is None
    texts, mail = unpack(packed)
    stored = sum(len(t.encode()) for t in texts.values()) + len(mail or b"")
    assert len(packed) < stored / 5
    shutil.copy(seeds[1], inbox)
    assert (
        digest(tmp_path, "now", "--inbox", str(inbox), "--out", str(tmp_path / "o2")).returncode
        == 0
    )
    with contextlib.closing(sqlite3.connect(state)) as db:
        rows = db.execute(
            "SELECT id, packed IS NOT NULL, parts FROM letters ORDER BY id"
        ).fetchall()
    assert rows == [(1, 1, None), (2, 1, None)]  # the old one, and the new one: both packed
    again = digest(tmp_path, "resend", "1", "--deliver", "files", "--out", str(tmp_path / "re"))
    assert again.returncode == 0, again.stderr
    resent = {p.suffix: p.read_bytes() for p in (tmp_path / "re").iterdir()}
    assert resent == first


def test_keep_days_is_a_setting_with_its_range(tmp_path: Path) -> None:
    run = digest(tmp_path, "status", DIGEST_KEEP_DAYS="-1")
    one_line_error(run, "DIGEST_KEEP_DAYS=-1 is out of range: use 0 to 36500 days")


def test_resend_of_a_number_beyond_any_digest_is_one_line(tmp_path: Path) -> None:
    one_line_error(
        digest(tmp_path, "resend", "99999999999999999999"), "no digest 99999999999999999999"
    )


@pytest.mark.slow
def test_the_checks_on_opening_are_cheap(tmp_path: Path) -> None:
    """quick_check reads the whole file: on a store of 20,000 papers it stays a few ms."""
    with open_state(tmp_path / "big.sqlite3") as store:
        listed = [
            Paper(f"Title {i} {hashlib.md5(str(i).encode()).hexdigest()}", "x " * 600)
            for i in range(20_000)
        ]
        papers = [
            Identified(p, (f"k{i}",), (), Identity(p.title, "")) for i, p in enumerate(listed)
        ]
        store.record([], [], papers, seen=True)
    os.sync()
    started = time.perf_counter()
    open_state(tmp_path / "big.sqlite3").close()
    assert time.perf_counter() - started < 1.0


@pytest.mark.slow
def test_damage_inside_a_stored_digest_is_one_line_that_quotes_little(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    state = made(tmp_path, inbox, seeds[0])
    with contextlib.closing(sqlite3.connect(state)) as db:  # the rendering the digest is made of
        db.execute("UPDATE letters SET parts = CAST(? AS TEXT)", (b"line one\nline two \xff\xfe",))
        db.commit()
    assert digest(tmp_path, "status").returncode == 0  # it reads no rendering
    run = digest(tmp_path, "resend", "1", "--deliver", "files", "--out", str(tmp_path / "again"))
    line = one_line_error(run, "the state file cannot be read (", "keep it as it is")
    assert len(line) < 250


def test_a_state_file_with_a_second_hard_link_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s.sqlite3"
    open_state(state).close()
    os.link(state, tmp_path / "other.sqlite3")
    before = state.read_bytes()
    for name in ("s.sqlite3", "other.sqlite3"):
        result = subprocess.run(
            [sys.executable, "-m", "digest", "status", "--state", name],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=tmp_path,
            timeout=60,
        )
        assert result.returncode == 1
        (line,) = result.stderr.splitlines()
        assert f"state file {name} has 2 hard links" in line and "symbolic link" in line
    assert state.read_bytes() == before  # nothing written
    os.unlink(tmp_path / "other.sqlite3")
    open_state(state).close()  # one name again: fine


def test_open_creates_owner_only_wal_file_and_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.sqlite3"
    with open_state(path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with open_state(path) as store:  # reopening applies nothing twice
        names = [r[0] for r in store.db.execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in steps("sqlite")]


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot be used"):
        open_state(path)


def test_a_state_file_from_before_gets_the_delivery_note(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    _m001_initial(db)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    db.execute("INSERT INTO migrations VALUES ('_m001_initial', '2025-03-01T00:00:00+00:00')")
    db.execute(
        "INSERT INTO digests (created_at, status, message_id, subject, paper_count, html, text,"
        " markdown, json) VALUES ('2025-03-01T07:00:00+00:00', 'pending', '<old@x>', 's', 1,"
        " 'h', 't', 'm', '{}')"
    )
    db.execute("COMMIT")
    db.close()

    with open_state(path) as store:
        [old] = store.outgoing(status="pending")
        assert old.eml is None and old.delivery_note is None
        store.mark_sent(old.id, "mailed to 2 recipients via mail.example.org:587")
        sent = store.get(old.id)
        assert sent is not None and sent.status == "sent"
        assert sent.delivery_note == "mailed to 2 recipients via mail.example.org:587"
        applied = [r[0] for r in store.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert applied[:2] == ["_m001_initial", "_m002_email_delivery_note"]


TEXT = (
    "we study how noise behaves when networks grow very deep and find that a low overhead"
    " technique of adding it to the gradients makes training stable across many tasks and"
    " model sizes from convolutional to recurrent networks with no tuning at all"
)


def test_a_store_from_before_the_index_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    _m001_initial(db)
    db.execute("INSERT INTO migrations VALUES ('_m001_initial', '2026-01-01')")
    old = Paper("Deep Networks with Zorblax1 Regularisation", TEXT, source="old.txt")
    db.execute(
        "INSERT INTO papers (id, title, abstract, first_dump, first_seen, seen)"
        " VALUES (1, ?, ?, 'old.txt', '2026-01-01T00:00:00+00:00', 1)",
        (old.title, old.abstract),
    )
    db.execute("INSERT INTO paper_keys VALUES (?, 1)", ("t:" + old.title.lower(),))
    db.close()
    with open_state(path) as store:
        assert set(store.lookup(keys(old))) == set(keys(old))
        retitled = Paper("A New Title", old.abstract)
        assert pipeline.decide([retitled], store).skipped[0].rule == "same abstract"


def test_a_state_file_from_before_the_counts_counts_what_it_holds(tmp_path: Path) -> None:
    """Opening a file of an earlier digest counts its papers once; nothing is shown again."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, script in steps("sqlite")[:5]:
        run_step(db, script)  # type: ignore[arg-type]
        db.execute("INSERT INTO migrations VALUES (?, '2026-01-01')", (name,))
    for n, seen in enumerate([1, 1, 0]):
        db.execute(
            "INSERT INTO papers (title, abstract, first_dump, first_seen, seen)"
            " VALUES (?, '', 'old.txt', '2026-01-01T00:00:00+00:00', ?)",
            (f"Old Paper {n}", seen),
        )
        db.execute("INSERT INTO paper_keys VALUES (?, ?)", (f"t:old paper {n}", n + 1))
    db.close()
    with open_state(path) as store:
        assert store.counts() == {"papers_seen": 2, "papers_pending": 1, "dumps": 0}
        again = [identify(Paper(f"Old Paper {n}", "")) for n in range(3)]
        assert not decide(again, store.lookup(k for p in again for k in p.keys)).new
    with open_state(path) as store:  # and only once
        assert store.counts() == {"papers_seen": 2, "papers_pending": 1, "dumps": 0}


def _packed_by_columns(parts: list[str], eml: bytes | None) -> bytes:
    """A digest packed as the outbox packed it when it kept a column a format: the HTML,
    text, Markdown and JSON lengths and the mail's (-1 for none), then the bytes."""
    import lzma
    import struct

    data = [p.encode("utf-8") for p in parts] + [eml or b""]
    lengths = [len(d) for d in data[:-1]] + [-1 if eml is None else len(eml)]
    return lzma.compress(struct.pack(">5q", *lengths) + b"".join(data))


def test_a_state_file_with_a_column_a_format_keeps_every_digest_as_it_was(
    tmp_path: Path,
) -> None:
    """Upgraded, the outbox keeps each digest's renderings by format name: those it had (an
    empty one was not made), packed ones too; and a resend delivers them as before."""
    path = tmp_path / "s.sqlite3"  # where `digest` below looks
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, script in steps("sqlite")[:8]:
        run_step(db, script)  # type: ignore[arg-type]
        db.execute("INSERT INTO migrations VALUES (?, '2026-01-01')", (name,))
    insert = (
        "INSERT INTO digests (id, created_at, status, message_id, subject, paper_count, html,"
        " text, markdown, json, eml, packed, sent_at) VALUES (?, '2026-01-01T07:00:00+00:00',"
        " 'sent', ?, 's', 1, ?, ?, ?, ?, ?, ?, '2026-01-01T07:00:01+00:00')"
    )
    db.execute(insert, (1, "<one@x>", "<p>é</p>", "é", "", "{}", b"mail one", None))
    packed = _packed_by_columns(["<p>two</p>", "two", "# two", '{"n": 2}'], None)
    db.execute(insert, (2, "<two@x>", "", "", "", "", None, packed))
    db.close()

    with open_state(path) as store:
        one, two = store.get(1), store.get(2)
        assert one is not None and two is not None
        assert one.parts == {"html": "<p>é</p>", "text": "é", "json": "{}"}
        assert one.eml == b"mail one"
        assert two.parts == {
            "html": "<p>two</p>",
            "text": "two",
            "markdown": "# two",
            "json": '{"n": 2}',
        }
        assert two.eml is None
        assert store.prune(datetime(2026, 2, 1, tzinfo=UTC)) == 1  # the one not packed yet
        again = store.get(1)
        assert again is not None and (again.parts, again.eml) == (one.parts, one.eml)
        columns = {row[1] for row in store.db.execute("PRAGMA table_info(digests)")}
    assert "parts" in columns and not columns & {"html", "text", "markdown", "json"}
    resent = digest(
        tmp_path,
        "resend",
        "1",
        "--deliver",
        "files",
        "--out",
        str(tmp_path / "re"),
    )
    assert resent.returncode == 0, resent.stderr
    written = {p.suffix: p.read_bytes() for p in (tmp_path / "re").iterdir()}
    assert written == {
        ".html": "<p>é</p>".encode(),
        ".txt": "é".encode(),
        ".json": b"{}",
        ".eml": b"mail one",
    }
