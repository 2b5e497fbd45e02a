"""Kill a real `digest now` process at random moments: afterwards nothing is lost, the state
file is intact, and the next run completes the work."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

from processes import clean_env, delivered_keys, digest_now, integrity, paper_keys, pending_digests

from digest.identity.keys import title_key

KILLS = 24


def test_sigkill_at_random_moments_loses_nothing(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    cmd = digest_now(inbox, state, "--out", str(out), "--quiet")
    rng = random.Random(20251125)
    left_pending = 0  # kills that fell between storing a digest and recording its delivery
    for day, seed in enumerate(seeds):
        shutil.copy(seed, inbox)
        for _ in range(KILLS // len(seeds)):
            process = subprocess.Popen(cmd, env=clean_env())
            time.sleep(rng.uniform(0.02, 0.4))
            process.send_signal(signal.SIGKILL)
            process.wait()
            left_pending += pending_digests(state) > 0
        finished = subprocess.run(cmd, env=clean_env(), timeout=60)
        assert finished.returncode == 0, f"day {day}"

    print(f"{KILLS} kills, {left_pending} left a digest pending")
    delivered = Counter(delivered_keys(out))
    assert set(delivered) == paper_keys(*seeds)  # every paper delivered...
    assert max(delivered.values()) == 1  # ...in one digest only (retries rewrite the same file)
    assert integrity(state) == "ok"
    with contextlib.closing(sqlite3.connect(state)) as db:
        assert db.execute("SELECT count(*) FROM digests WHERE status != 'sent'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM papers WHERE seen = 0").fetchone()[0] == 0


def _json_objects(text: str) -> list[dict[str, object]]:
    decoder, objects, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        obj, at = decoder.raw_decode(text, at)
        objects.append(obj)
        while at < len(text) and text[at].isspace():
            at += 1
    return objects


def test_kill_while_delivering_then_the_next_run_delivers_the_stored_digest(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    """A reader that does not take the digest (a full pipe) blocks delivery after the digest
    was stored: killed there, the digest is delivered by the next run, once."""
    state = tmp_path / "state.sqlite3"
    cmd = digest_now(inbox, state, "--deliver", "stdout", "--format", "json", "--quiet")
    shutil.copy(seeds[2], inbox)
    stuck = subprocess.Popen(cmd, env=clean_env(), stdout=subprocess.PIPE)  # never read
    deadline = time.monotonic() + 30
    pending = 0
    while not pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = pending_digests(state)
    stuck.send_signal(signal.SIGKILL)
    stuck.wait()
    assert stuck.stdout is not None
    stuck.stdout.close()
    assert pending == 1

    shutil.copy(seeds[3], inbox)
    first = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=60)
    again = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert first.returncode == again.returncode == 0
    (empty,) = _json_objects(again.stdout)  # nothing new: an empty digest, for | jq
    assert empty["papers"] == []
    digests = _json_objects(first.stdout)
    assert len(digests) == 2  # the stored one, then the new day's
    titles = [title_key(p["title"]) for d in digests for p in d["papers"]]  # type: ignore[attr-defined]
    assert sorted(titles) == sorted(paper_keys(seeds[2], seeds[3]))  # each once


def test_concurrent_runs_never_show_a_paper_twice(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cmd = digest_now(inbox, tmp_path / "state.sqlite3", "--out", str(out), "--quiet")
    for seed in seeds:
        shutil.copy(seed, inbox)
    runs = [subprocess.Popen(cmd, env=clean_env()) for _ in range(4)]
    assert [run.wait(timeout=60) for run in runs] == [0, 0, 0, 0]
    assert delivered_keys(out) == sorted(paper_keys(*seeds))
    # One run made the digest; the others, after it, found nothing new.
    assert len(list(out.glob("*.json"))) == 1
