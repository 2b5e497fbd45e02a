"""The orchestrator: outbox, delivery failures, dedupe across runs, rejected files."""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.channels import EVERYTHING
from digest.config import Settings
from digest.errors import DeliveryError, TransientDeliveryError
from digest.identity.decide import enrich
from digest.identity.keys import title_key
from digest.models import Outgoing, Paper
from digest.pipeline import run_once
from digest.state import open as open_state
from tests.conftest import SEEDS
from tests.processes import (
    clean_env,
    delivered_keys,
    digest_now,
    integrity,
    paper_keys,
    pending_digests,
)

NOW = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


class Recorder:
    """A deliverer that keeps what it was given (the boundary, passed in)."""

    needs = EVERYTHING

    def __init__(self) -> None:
        self.delivered: list[Outgoing] = []

    def deliver(self, outgoing: Outgoing) -> str:
        self.delivered.append(outgoing)
        return "recorded"


class Failing:
    """A deliverer whose server refuses, for now or for good."""

    needs = EVERYTHING

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def deliver(self, outgoing: Outgoing) -> str:
        self.calls += 1
        raise self.error


@pytest.fixture
def settings(inbox: Path, tmp_path: Path) -> Settings:
    return Settings(inbox=inbox, state=tmp_path / "state.sqlite3")


def test_transient_failure_keeps_papers_pending_and_next_run_sends_the_same_digest(
    settings: Settings, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox)
    with open_state(settings.state) as store:
        down = Failing(TransientDeliveryError("connection refused"))
        report = run_once(settings, store, down, NOW)
        assert not report.ok and report.pending == 1
        assert store.counts() == {"papers_seen": 0, "papers_pending": 63, "dumps": 1}

        up = Recorder()
        report = run_once(settings, store, up, NOW)
        assert report.ok
        assert len(up.delivered) == 1 and up.delivered[0].paper_count == 63
        assert store.counts()["papers_seen"] == 63

        again = Recorder()
        run_once(settings, store, again, NOW)
        assert again.delivered == []


def test_permanent_failure_marks_failed_and_never_seen(
    settings: Settings, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox)
    with open_state(settings.state) as store:
        refused = Failing(DeliveryError("550 mailbox unavailable"))
        run_once(settings, store, refused, NOW)
        run_once(settings, store, refused, NOW)
        assert refused.calls == 1  # a failed digest is not retried by itself
        [failed] = store.outgoing(status="failed")
        assert failed.last_error == "550 mailbox unavailable"
        assert store.counts()["papers_seen"] == 0


def test_dry_run_records_nothing(settings: Settings, inbox: Path, seeds: list[Path]) -> None:
    shutil.copy(seeds[1], inbox)
    with open_state(settings.state) as store:
        first = Recorder()
        run_once(settings, store, first, NOW, dry_run=True)
        second = Recorder()
        run_once(settings, store, second, NOW, dry_run=True)
        assert first.delivered[0].part("json") == second.delivered[0].part("json")
        assert store.counts() == {"papers_seen": 0, "papers_pending": 0, "dumps": 0}


def test_same_content_under_a_new_name_is_not_read_again(
    settings: Settings, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox / "monday.txt")
    with open_state(settings.state) as store:
        run_once(settings, store, Recorder(), NOW)
        shutil.copy(seeds[0], inbox / "monday-copy.txt")
        report = run_once(settings, store, Recorder(), NOW)
        assert report.dumps_read == 0 and report.dumps_known == 2


def test_bad_file_is_reported_and_the_rest_goes_on(
    settings: Settings, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox)
    (inbox / "garbage.txt").write_bytes(bytes(range(256)) * 10)
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / ".hidden.txt").write_text("x")
    (inbox / "partial.txt.part").write_text("x")
    (inbox / "sub").mkdir()
    with open_state(settings.state) as store:
        sink = Recorder()
        report = run_once(settings, store, sink, NOW)
        assert report.digest is not None
        assert {r.file for r in report.digest.rejected} == {"garbage.txt", "empty.txt"}
        assert "garbage.txt" in sink.delivered[0].part("text")
        assert sink.delivered[0].paper_count == 63
        # Recorded by content: not rejected again on every run.
        assert run_once(settings, store, Recorder(), NOW).digest.rejected == ()  # type: ignore[union-attr]


def test_nothing_new_delivers_nothing_unless_asked(
    settings: Settings, inbox: Path, tmp_path: Path
) -> None:
    with open_state(settings.state) as store:
        sink = Recorder()
        run_once(settings, store, sink, NOW)
        assert sink.delivered == []
        wants_empty = Settings(inbox=inbox, state=settings.state, send_empty=True)
        run_once(wants_empty, store, sink, NOW)
        assert len(sink.delivered) == 1 and "Nothing new" in sink.delivered[0].part("text")


def test_unreadable_files_are_reported_once_and_can_be_set_aside(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    shutil.copy(seeds[0], inbox)
    (inbox / "garbage.txt").write_bytes(bytes(range(256)) * 10)
    (inbox / "huge.txt").write_bytes(b"x" * 2_000_001)
    (inbox / "bad\x1b[31mname\n.txt").write_bytes(b"")
    keep = Settings(inbox=inbox, state=tmp_path / "s.db", max_dump_mb=2)
    with open_state(keep.state) as store:
        first = run_once(keep, store, Recorder(), NOW, dry_run=True)
        assert first.digest is not None
        assert sorted(r.file for r in first.digest.rejected) == [
            "bad\\x1b[31mname\\x0a.txt",
            "garbage.txt",
            "huge.txt",
        ]  # control characters shown as escapes, not obeyed
        run_once(keep, store, Recorder(), NOW)
        again = run_once(keep, store, Recorder(), NOW)
        assert again.digest is not None and again.digest.rejected == ()  # reported once
        assert {r.file for r in store.rejected_dumps()} >= {"garbage.txt", "huge.txt"}

        (inbox / "huge.txt").write_bytes(b"y" * 2_000_002)  # changed: reported again
        moved = Settings(inbox=inbox, state=keep.state, max_dump_mb=2, rejected="move")
        report = run_once(moved, store, Recorder(), NOW)
        assert report.digest is not None
        assert [r.file for r in report.digest.rejected] == ["huge.txt"]
        assert (inbox / "rejected" / "huge.txt").exists() and not (inbox / "huge.txt").exists()


def test_fifo_symlink_out_of_the_inbox_and_a_cut_off_dump(
    settings: Settings, inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    import os

    os.mkfifo(inbox / "pipe.txt")  # must not block the run
    outside = tmp_path / "secret.txt"
    outside.write_text("Daily Papers\n\nNot Yours\n\n" + "private words " * 30)
    (inbox / "link.txt").symlink_to(outside)
    data = seeds[3].read_bytes()
    cut = data.rfind(b"\n\n", 0, len(data) // 2) + 2 + 150  # 150 bytes into a paragraph
    (inbox / "cut.txt").write_bytes(data[:cut])
    with open_state(settings.state) as store:
        sink = Recorder()
        report = run_once(settings, store, sink, NOW)
    assert report.digest is not None
    reasons = {r.file: r.reason for r in report.digest.rejected}
    assert reasons == {
        "pipe.txt": "not a regular file",
        "link.txt": "symbolic link pointing outside the inbox; not read",
    }
    shown = [p.title for p in report.digest.papers]
    assert "Not Yours" not in shown
    full = [p.title for p in report.digest.papers if p.abstract and len(p.abstract) > 500]
    assert len(full) >= 25  # the good papers before the cut


def test_enrich_completes_a_paper_from_its_repeat_in_the_run() -> None:
    text = Paper("Forward Learning of GNNs", "From the text dump.", source="day.txt")
    rich = Paper(
        "Forward learning of GNNs",
        "From the JSON.",
        source="day.json",
        arxiv_id="2403.11004",
        upvotes=9,
        authors=("Namyong Park",),
    )
    other = Paper("Unrelated", "", source="day.json", arxiv_id="2403.99999")
    (merged,) = enrich([text], [rich, other])
    assert merged.title == text.title and merged.abstract == text.abstract  # kept
    assert merged.source == "day.txt"
    assert (merged.arxiv_id, merged.upvotes, merged.authors) == ("2403.11004", 9, ("Namyong Park",))


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        cmd, env=clean_env(), capture_output=True, text=True, timeout=60, **kwargs
    )


def _limited(max_bytes: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


@pytest.mark.parametrize("limit", [4_000, 40_000, 150_000, 400_000])
@pytest.mark.slow
def test_disk_full_loses_nothing_and_the_next_run_completes(
    inbox: Path, seeds: list[Path], tmp_path: Path, limit: int
) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    cmd = digest_now(inbox, state, "--out", str(out))
    assert _run(cmd).returncode == 0  # create the store
    shutil.copy(seeds[1], inbox)
    shutil.copy(seeds[2], inbox)

    full = _run(cmd, preexec_fn=lambda: _limited(limit))
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    [line] = full.stderr.strip().splitlines()
    assert re.fullmatch(
        f"digest: state file {state} cannot be (used|written): disk I/O error", line
    )

    fine = _run(cmd)
    assert fine.returncode == 0, fine.stderr
    assert delivered_keys(out) == sorted(paper_keys(*seeds[1:3]))
    assert integrity(state) == "ok"


@pytest.fixture
def small_disk(tmp_path: Path) -> object:
    """A real 64 KB file system (tmpfs), where the machine lets us mount one."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.slow
def test_digest_files_on_a_full_disk_stay_pending_until_there_is_room(
    inbox: Path, seeds: list[Path], tmp_path: Path, small_disk: Path
) -> None:
    state, out = tmp_path / "state.sqlite3", small_disk / "out"
    cmd = digest_now(inbox, state, "--out", str(out))
    shutil.copy(seeds[2], inbox)
    full = _run(cmd)
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "No space left on device" in full.stderr and "will retry" in full.stderr
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind

    roomy = tmp_path / "out"
    retry = _run([*cmd[:-1], str(roomy)])
    assert retry.returncode == 0, retry.stderr
    assert delivered_keys(roomy) == sorted(paper_keys(seeds[2]))


KILLS = 24


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    cmd = digest_now(inbox, state, "--out", str(out), "--quiet")
    rng = random.Random(20251125)
    for day, seed in enumerate(seeds):
        shutil.copy(seed, inbox)
        # Kills that fell between storing a digest and recording its delivery, this day.
        left_pending = 0
        for _ in range(KILLS // len(seeds)):
            process = subprocess.Popen(cmd, env=clean_env())
            time.sleep(rng.uniform(0.02, 0.4))
            process.send_signal(signal.SIGKILL)
            process.wait()
            left_pending += pending_digests(state) > 0
        finished = subprocess.run(cmd, env=clean_env(), timeout=60)
        assert finished.returncode == 0, f"day {day}"
        # Whatever the kills left pending, the run that completes delivers it.
        assert pending_digests(state) == 0, f"day {day}: {left_pending} kills left one pending"

    delivered = Counter(delivered_keys(out))
    assert set(delivered) == paper_keys(*seeds)  # every paper delivered...
    assert max(delivered.values()) == 1  # ...in one digest only (retries rewrite the same file)
    assert integrity(state) == "ok"
    with open_state(state) as store:
        assert store.outgoing(status="pending") == store.outgoing(status="failed") == []
        assert store.counts()["papers_pending"] == 0


def _json_objects(text: str) -> list[dict[str, object]]:
    decoder, objects, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        obj, at = decoder.raw_decode(text, at)
        objects.append(obj)
        while at < len(text) and text[at].isspace():
            at += 1
    return objects


@pytest.mark.slow
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


@pytest.mark.slow
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


BROKEN = b'[{"paper": {"id": "2501.00001", "title": "Cut off'  # a download cut short


def _command(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=clean_env(), timeout=60
    )


def _status(state: Path) -> str:
    result = _command(sys.executable, "-m", "digest", "status", "--state", state)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_a_rejected_dump_alone_is_named_in_the_next_digest(inbox: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    (inbox / "broken.json").write_bytes(BROKEN)
    alone = _command(*digest_now(inbox, state, "--out", str(out)))
    assert alone.returncode == 1, alone.stderr
    assert "broken.json" in alone.stderr
    assert "no unread dumps" not in alone.stderr
    assert "Traceback" not in alone.stderr
    assert "broken.json" in _status(state)
    assert "to be named in the next digest" in _status(state)

    # Asked again with nothing else new: still nothing to tell, and no second complaint.
    again = _command(*digest_now(inbox, state, "--out", str(out)))
    assert again.returncode == 0, again.stderr

    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", inbox / "001.txt")
    digest = _command(*digest_now(inbox, state, "--out", str(out)))
    assert digest.returncode == 0, digest.stderr
    (report,) = out.glob("*.json")
    rejected = json.loads(report.read_text(encoding="utf-8"))["rejected"]
    assert [r["file"] for r in rejected] == ["broken.json"]
    assert "broken.json" in next(out.glob("*.txt")).read_text(encoding="utf-8")
    assert "broken.json" in next(out.glob("*.html")).read_text(encoding="utf-8")
    # Told once: the status no longer waits to tell it, and the next digest does not repeat it.
    assert "to be named in the next digest" not in _status(state)
    assert "rejected: broken.json" in _status(state)
    shutil.copy(SEEDS / "002_ad28794d56ee46c0.txt", inbox / "002.txt")
    later = _command(
        *digest_now(inbox, state, "--out", str(out), "--deliver", "stdout", "--format", "json")
    )
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["rejected"] == []


@pytest.mark.slow
def test_a_digest_not_delivered_has_not_told_it(inbox: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    (inbox / "broken.json").write_bytes(BROKEN)
    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", inbox / "001.txt")
    # A dry run shows what the digest would say, and records nothing.
    dry = _command(
        *digest_now(inbox, state, "--dry-run", "--deliver", "stdout", "--format", "json")
    )
    assert json.loads(dry.stdout)["rejected"][0]["file"] == "broken.json"
    real = _command(*digest_now(inbox, state, "--deliver", "stdout", "--format", "json"))
    assert real.returncode == 1, real.stderr  # it met an unreadable dump
    assert json.loads(real.stdout)["rejected"][0]["file"] == "broken.json"
    assert "to be named in the next digest" not in _status(state)


@pytest.mark.slow
def test_now_check_and_ingest_agree_on_the_exit_status(inbox: Path, tmp_path: Path) -> None:
    bad = inbox / "broken.json"
    bad.write_bytes(BROKEN)
    state = tmp_path / "state.sqlite3"
    check = _command(sys.executable, "-m", "digest", "check", bad)
    ingest = _command(
        sys.executable, "-m", "digest", "ingest", "--state", tmp_path / "i.sqlite3", bad
    )
    now = _command(*digest_now(inbox, state, "--out", str(tmp_path / "out")))
    assert (check.returncode, ingest.returncode, now.returncode) == (1, 1, 1)
    for result in (check, ingest, now):
        assert "broken.json" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    good = SEEDS / "001_a508b4c33d36f06c.txt"
    check = _command(sys.executable, "-m", "digest", "check", good)
    ingest = _command(
        sys.executable, "-m", "digest", "ingest", "--state", tmp_path / "i.sqlite3", good
    )
    assert (check.returncode, ingest.returncode) == (0, 0)


@pytest.mark.slow
def test_a_digest_refused_for_good_has_not_told_it(inbox: Path, tmp_path: Path) -> None:
    from tests.mailserver import Handler, smtp_server

    state = tmp_path / "state.sqlite3"
    (inbox / "broken.json").write_bytes(BROKEN)
    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", inbox / "001.txt")
    mail = {"DIGEST_FROM": "papers@example.org", "DIGEST_TO": "ann@example.org"}
    command = [sys.executable, "-m", "digest", "now", "--inbox", str(inbox), "--state", str(state)]
    with smtp_server(Handler(data_reply="554 5.7.1 refused")) as server:
        env = clean_env(**mail, **server.environment())
        refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "to be named in the next digest" in _status(state)

    shutil.copy(SEEDS / "002_ad28794d56ee46c0.txt", inbox / "002.txt")
    with smtp_server() as server:
        env = clean_env(**mail, **server.environment())
        sent = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert sent.returncode == 0, sent.stderr
        (message,) = server.received
    text = message.message.get_body(("plain",))
    assert text is not None and "broken.json" in text.get_content()
    assert "to be named in the next digest" not in _status(state)


def test_a_text_listings_day_takes_its_year_from_the_files_time(
    settings: Settings, inbox: Path, seeds: list[Path]
) -> None:
    # The seeds give their days as "Mar 11", "Jul 29": the year is the file's, each listing
    # the latest such day before the file was written.
    for seed in seeds:
        shutil.copy(seed, inbox)
        written = datetime(2025, 8, 1, 12, 0, tzinfo=UTC).timestamp()
        os.utime(inbox / seed.name, (written, written))
    with open_state(settings.state) as store:
        sink = Recorder()
        report = run_once(settings, store, sink, datetime(2026, 12, 5, 8, 0, tzinfo=UTC))
    dumps = report.digest.dumps  # type: ignore[union-attr]
    days = {d.listing_date: d.listed for d in dumps if d.listing_date}
    assert days == {
        "Mar 11": "2025-03-11",
        "Mar 12": "2025-03-12",
        "Mar 14": "2025-03-14",
        "Jul 29": "2025-07-29",
    }
    [digest] = sink.delivered
    assert digest.subject.endswith("(Tue 11 Mar \N{EN DASH} Tue 29 Jul 2025)")
