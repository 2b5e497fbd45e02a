"""The orchestrator: outbox, delivery failures, dedupe across runs, rejected files."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.channels.base import EVERYTHING
from digest.config import Settings
from digest.errors import DeliveryError, TransientDeliveryError
from digest.models import Outgoing
from digest.pipeline import run_once
from digest.state import open as open_state

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
        assert first.delivered[0].json == second.delivered[0].json
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
        assert "garbage.txt" in sink.delivered[0].text
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
        assert len(sink.delivered) == 1 and "Nothing new" in sink.delivered[0].text


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
