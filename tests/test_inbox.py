"""The inbox: one odd entry costs at most itself, digest never reads back its own files, and a
file still being written is not read, with the real `digest now` and `digest serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from digest.inbox import Candidate, being_written
from tests.processes import clean_env, delivered_keys, paper_keys
from tests.service.test_service import SEEDS, Serve, digests, keys_of, serves, until

__all__ = ["serves"]  # the fixture, used by name

UNDECODABLE = os.fsdecode(b"r\xe9sum\xe9.txt")  # not UTF-8: Python holds it with surrogates


def odd_entries(inbox: Path) -> list[str]:
    """Entries that once stopped every digest, each beside good dumps; their names as shown."""
    (inbox / UNDECODABLE).write_bytes(b"")
    (inbox / os.fsdecode(b"caf\xe9-dump.txt")).write_bytes(SEEDS[4].read_bytes())
    os.symlink("loop-b", inbox / "loop-a")
    os.symlink("loop-a", inbox / "loop-b")
    (inbox / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    return ["r\\xe9sum\\xe9.txt", "loop-a", "loop-b", "deep.json"]


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *argv],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=cwd,
        timeout=60,
    )


@pytest.mark.slow
def test_odd_entries_cost_only_themselves_in_digest_now(inbox: Path, tmp_path: Path) -> None:
    for seed in SEEDS[:4]:
        shutil.copy(seed, inbox)
    shown = odd_entries(inbox)
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    done = run("now", "--inbox", "inbox", "--state", str(state), "--out", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # unreadable dumps fail the run, and only them
    assert "Traceback" not in done.stderr
    # The good dumps are delivered, the one under an undecodable name too.
    assert set(delivered_keys(out)) == paper_keys(*SEEDS)
    (digest,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert "caf\\xe9-dump.txt" in {p["source"] for p in digest["papers"]}
    text = next(out.glob("*.txt")).read_text()
    for name in shown:
        assert name in text  # named, printably, in the digest
    status = run("status", "--state", str(state), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    for name in shown:
        assert f"rejected: {name}: " in status.stdout
    assert "rejected: loop-a: symbolic link that loops" in status.stdout

    again = run("now", "--inbox", "inbox", "--state", str(state), "--out", "out", cwd=tmp_path)
    assert again.returncode == 0 and "nothing new" in again.stderr, again.stderr
    assert len(list(out.glob("*.json"))) == 1  # each odd entry reported once, not every run


@pytest.mark.slow
def test_odd_entries_cost_only_themselves_in_digest_serve(
    inbox: Path, tmp_path: Path, serves: list[Serve]
) -> None:
    for seed in SEEDS[:4]:
        shutil.copy(seed, inbox)
    shown = odd_entries(inbox)
    out = tmp_path / "out"
    serve = Serve(tmp_path, inbox, out)
    serves.append(serve)
    until(lambda: bool(digests(out)), 20, f"a digest; log:\n{serve.text()}")
    assert {k for d in digests(out) for k in d} == keys_of(*SEEDS)
    serve.wait_for("scheduled run started", count=2)
    status = run("status", "--state", str(tmp_path / "state.sqlite3"), cwd=tmp_path).stdout
    assert "last scheduled run: 20" in status and "last successful run: 20" in status
    for name in shown:
        assert f"rejected: {name}: " in status
    assert serve.stop() == 0
    assert "Traceback" not in serve.text()
    assert "r\\xe9sum\\xe9.txt: file is empty" in serve.text()


# -- digest's own files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("inbox", "the output folder inbox (DIGEST_OUT) is inside the inbox inbox (DIGEST_INBOX)"),
        (
            "inbox/digests",
            "the output folder inbox/digests (DIGEST_OUT) is inside the inbox inbox (DIGEST_INBOX)",
        ),
        (".", "the inbox inbox (DIGEST_INBOX) is inside the output folder . (DIGEST_OUT)"),
    ],
)
def test_an_output_folder_overlapping_the_inbox_is_refused(
    inbox: Path, tmp_path: Path, out: str, says: str
) -> None:
    shutil.copy(SEEDS[0], inbox)
    for extra in ((), ("--dry-run",)):
        done = run("now", "--inbox", "inbox", "--out", out, *extra, cwd=tmp_path)
        assert done.returncode == 1
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"digest: {says}; ")
    assert sorted(p.name for p in inbox.iterdir()) == [SEEDS[0].name]  # nothing written


@pytest.mark.slow
def test_files_digest_wrote_are_never_read_back_as_dumps(inbox: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    shutil.copy(SEEDS[0], inbox)
    first = run("now", "--inbox", "inbox", "--state", str(state), "--out", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for written in out.iterdir():  # an earlier digest's files, moved into the inbox
        shutil.copy(written, inbox)
    again = run("now", "--inbox", "inbox", "--state", str(state), "--out", "out", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing new: no unread dumps" in again.stderr
    assert "rejected" not in run("status", "--state", str(state), cwd=tmp_path).stdout


@pytest.mark.slow
def test_a_state_file_kept_in_the_inbox_is_never_read_as_a_dump(
    inbox: Path, tmp_path: Path
) -> None:
    shutil.copy(SEEDS[0], inbox)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(inbox / "state.sqlite3", tmp_path / "elsewhere" / "alias.sqlite3")
    for state in ("inbox/state.sqlite3", "elsewhere/alias.sqlite3"):
        result = run("now", "--inbox", "inbox", "--state", state, "--out", "out", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "state.sqlite3" not in result.stderr
    assert (inbox / "state.sqlite3.lock").exists()  # the lock lies beside it, unread too
    status = run("status", "--state", "inbox/state.sqlite3", cwd=tmp_path).stdout
    assert "rejected" not in status


# -- files still being written -----------------------------------------------------------------

WRITER = """
import sys, time
data = open(sys.argv[2], "rb").read()
half = data.index(b"\\n\\n", len(data) // 2) + 2  # a whole number of papers
with open(sys.argv[1], "wb") as f:
    f.write(data[:half])
    f.flush()
    print("half", flush=True)
    time.sleep(float(sys.argv[3]))
    f.write(data[half:])
"""


def test_a_file_open_for_writing_is_known_as_such(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(SEEDS[0]), "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "half\n"
        candidate = Candidate(path, path.stat().st_size, path.stat().st_mtime_ns)
        with path.open("rb"):  # a reader is not a writer
            assert being_written([candidate]) == {path}
    finally:
        writer.kill()
        writer.communicate()
    assert being_written([candidate]) == set()


@pytest.mark.slow
def test_serve_waits_for_a_slow_copy_to_be_closed(
    inbox: Path, tmp_path: Path, serves: list[Serve]
) -> None:
    out = tmp_path / "out"
    serve = Serve(tmp_path, inbox, out, DIGEST_POLL_SECONDS="1")
    serves.append(serve)
    serve.wait_for("serving: inbox")
    writer = subprocess.run(  # half, then a pause across several polls and runs, then the rest
        [sys.executable, "-c", WRITER, str(inbox / "slow.txt"), str(SEEDS[1]), "3.5"],
        capture_output=True,
        timeout=30,
    )
    assert writer.returncode == 0
    until(lambda: bool(digests(out)), 10, f"a digest; log:\n{serve.text()}")
    serve.wait_for("scheduled run started", count=serve.text().count("scheduled run started") + 2)
    assert serve.stop() == 0
    assert [set(d) for d in digests(out)] == [keys_of(SEEDS[1])]  # whole, in one digest


def test_check_and_ingest_do_not_hang_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    for command in (["check", str(fifo)], ["ingest", str(fifo), "--state", str(tmp_path / "s")]):
        done = subprocess.run(
            [sys.executable, "-m", "digest", *command],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1
        assert "not a regular file" in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_socket_in_the_inbox_is_rejected_once_and_listed(inbox: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(inbox / "s.json"))
        state = str(tmp_path / "state.sqlite3")
        first = run("now", "--inbox", "inbox", "--state", state, "--out", "out", cwd=tmp_path)
        assert first.returncode == 1 and "s.json: not a regular file" in first.stderr
        shutil.copy(SEEDS[0], inbox)
        second = run("now", "--inbox", "inbox", "--state", state, "--out", "out", cwd=tmp_path)
        assert second.returncode == 0, second.stderr  # told once, not on every run
        status = run("status", "--state", state, cwd=tmp_path).stdout
        assert "rejected: s.json: not a regular file" in status
