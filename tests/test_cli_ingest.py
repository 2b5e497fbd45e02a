"""`digest ingest -j N` interrupted: its workers end with it, and what was recorded holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.state import open as open_state
from tests.conftest import SEEDS
from tests.processes import clean_env, integrity, paper_keys


def backlog(folder: Path, files: int) -> list[Path]:
    """`files` distinct dump files (the seeds again, each with its own trailing lines)."""
    folder.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    paths = []
    for i in range(files):
        path = folder / f"{i:04d}.txt"
        path.write_bytes(seeds[i % len(seeds)].read_bytes() + b"\n" * (i + 1))
        paths.append(path)
    return paths


def workers_of(pid: int) -> list[int]:
    """The multiprocessing workers (spawned children) of process `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started_ingest(tmp_path: Path) -> tuple[subprocess.Popen[str], list[int], Path]:
    """A `digest ingest -j 4` of a backlog, once its four workers are running."""
    state = tmp_path / "state.sqlite3"
    files = backlog(tmp_path / "backlog", 300)
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "ingest", "-j", "4", "--state", str(state)]
        + [str(f) for f in files],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        start_new_session=True,  # its own process group, as a shell's job would be
    )
    deadline = time.monotonic() + 20
    workers: list[int] = []
    while len(workers) < 4:
        assert proc.poll() is None and time.monotonic() < deadline, "no four workers came up"
        time.sleep(0.05)
        workers = workers_of(proc.pid)
    time.sleep(0.3)  # into the backlog
    return proc, workers, state


def finish(proc: subprocess.Popen[str], workers: list[int]) -> tuple[int, str]:
    """Wait for the ingest to end; its workers must be gone with it within a moment."""
    try:
        _, err = proc.communicate(timeout=15)  # workers left running keep its stderr open
    except subprocess.TimeoutExpired:
        err = "(no end)"
    deadline = time.monotonic() + 3
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [w for w in workers if alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
    assert not left, "workers left running after their ingest ended"
    return proc.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "code", "says"),
    [
        ("SIGTERM to the ingest", 128 + signal.SIGTERM, "stopped by SIGTERM"),
        ("Ctrl-C to the job", 130, "interrupted"),
        ("a worker killed", 1, "a worker process ended unexpectedly"),
    ],
)
def test_an_interrupted_ingest_ends_its_workers_and_says_so_in_one_line(
    tmp_path: Path, how: str, code: int, says: str
) -> None:
    proc, workers, state = started_ingest(tmp_path)
    if how == "SIGTERM to the ingest":
        proc.send_signal(signal.SIGTERM)
    elif how == "Ctrl-C to the job":
        os.killpg(proc.pid, signal.SIGINT)  # a terminal sends it to every process of the job
    else:
        os.kill(workers[0], signal.SIGKILL)
    got, err = finish(proc, workers)
    assert got == code, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        line for line in err.splitlines() if says in line
    ]
    assert integrity(state) == "ok"
    if how != "a worker killed":
        return
    # What was recorded holds together: a second ingest of the same files finishes the job.
    again = subprocess.run(
        [sys.executable, "-m", "digest", "ingest", "-j", "1", "--state", str(state)]
        + [str(f) for f in sorted((tmp_path / "backlog").iterdir())],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    with open_state(state) as store:
        assert store.counts()["papers_seen"] == len(paper_keys(*SEEDS.glob("*.txt")))
