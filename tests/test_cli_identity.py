"""The identity commands end to end: now --explain, ingest, seen, forget, the updated section."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from digest.cli import main
from digest.formats import parse
from tests.conftest import copy_seeds


def first_papers(seed: Path, n: int = 3) -> list[tuple[str, str]]:
    """Title and abstract of a seed dump's first papers."""
    return [(p.title, p.abstract) for p in parse(seed.read_bytes(), seed.name).papers[:n]]


def write_dump(path: Path, papers: list[tuple[str, str]]) -> Path:
    """A text dump of these papers."""
    path.write_text("".join(f"{t}\n\n{a}\n\n" for t, a in papers), encoding="utf-8")
    return path


NEW = (
    "Quantised Hypernetworks for Tiny Microcontrollers",
    "We compress hypernetworks to four bits and run them on microcontrollers with a few"
    " kilobytes of memory, generating the weights of small convolutional networks on demand"
    " and matching the accuracy of the full-precision models on keyword spotting tasks.",
)


def test_now_explains_what_it_left_out(
    inbox: Path, tmp_path: Path, seeds: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state = ["--state", str(tmp_path / "s.db")]
    copy_seeds(inbox, seeds[0])
    out = ["--out", str(tmp_path / "out")]
    assert main(["now", "--inbox", str(inbox), *state, *out, "--explain"]) == 0
    assert "no listed paper was left out" in capsys.readouterr().err
    (title, abstract), (title2, _), _ = first_papers(seeds[0])
    write_dump(
        inbox / "later.txt",
        [(title.upper() + ".", abstract), (title2.replace("Noise", "Noize"), ""), NEW],
    )
    capsys.readouterr()
    code = main(
        [
            "now",
            "--inbox",
            str(inbox),
            *state,
            "--deliver",
            "stdout",
            "--format",
            "json",
            "--explain",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    result = json.loads(out)
    assert [p["title"] for p in result["papers"]] == [NEW[0]]
    skipped = result["skipped"]
    assert [(s["rule"], round(s["score"])) for s in skipped] == [
        ("same title", 100),
        ("similar title, no abstract to compare", 98),
    ]
    assert skipped[1]["matched"]["title"] == title2
    assert skipped[1]["matched"]["first_dump"] == seeds[0].name
    assert result["stats"]["seen_before"] == 2
    assert f"left out: {title2.replace('Noise', 'Noize')!r} (later.txt)" in err
    assert f"seen before as {title2!r}" in err and f"in {seeds[0].name}" in err
    assert "rule: similar title, no abstract to compare, score 98" in err


def test_ingest_then_only_new_papers_are_shown(
    inbox: Path, tmp_path: Path, seeds: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state = ["--state", str(tmp_path / "s.db")]
    assert main(["ingest", *state, *map(str, seeds)]) == 0
    assert "268 papers recorded as seen from 5 files; 121 already known" in capsys.readouterr().err
    (title, abstract), *_ = first_papers(seeds[3])
    write_dump(inbox / "today.txt", [("Retitled: " + title, abstract), NEW])
    code = main(["now", "--inbox", str(inbox), *state, "--deliver", "stdout", "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [p["title"] for p in result["papers"]] == [NEW[0]]
    assert result["skipped"][0]["rule"] == "same abstract"


def test_ingest_fails_on_unreadable_files_and_records_the_rest(
    tmp_path: Path, seeds: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["ingest", "--state", str(tmp_path / "s.db"), str(empty), str(seeds[0])]) == 1
    err = capsys.readouterr().err
    assert "empty.txt: file is empty" in err and "1 files could not be read" in err


def test_seen_and_forget(
    tmp_path: Path, seeds: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state = ["--state", str(tmp_path / "s.db")]
    main(["ingest", *state, *map(str, seeds)])
    capsys.readouterr()
    assert main(["seen", *state, "gradient", "noise", "deep"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "Adding Gradient Noise Improves Learning for Very Deep Networks" in first
    assert seeds[0].name in first
    paper_id = first.split()[0]

    assert main(["forget", *state, paper_id]) == 0
    assert capsys.readouterr().out == (
        f"forgot {paper_id}: Adding Gradient Noise Improves Learning for Very Deep Networks\n"
    )
    # Other papers share some of these words: they are listed, the forgotten one is not.
    assert main(["seen", *state, "Adding Gradient Noise Improves Learning"]) == 0
    assert "Adding Gradient Noise Improves" not in capsys.readouterr().out

    noprop = "NoProp: training neural networks without back propagation or forward propagation"
    assert main(["forget", *state, noprop]) == 0
    assert capsys.readouterr().out.startswith("forgot ")
    assert main(["forget", *state, "NoProp: Training Neural Networks"]) == 1  # not the title
    capsys.readouterr()
    assert main(["forget", *state, "no such paper anywhere at all"]) == 1
    err = capsys.readouterr().err
    assert "no paper seen before matches 'no such paper anywhere at all'" in err
    assert main(["seen", *state, "zzzz qqqq"]) == 1


def test_updated_section_is_a_setting(
    inbox: Path,
    tmp_path: Path,
    seeds: list[Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = ["--state", str(tmp_path / "s.db")]
    main(["ingest", *state, str(seeds[0])])
    (title, abstract), *_ = first_papers(seeds[0])
    write_dump(inbox / "today.txt", [(title, abstract + " We release the code."), NEW])
    args = ["now", "--inbox", str(inbox), *state, "--deliver", "stdout", "--dry-run"]
    capsys.readouterr()
    main([*args, "--format", "text"])
    assert "Updated since first shown" not in capsys.readouterr().out
    main([*args, "--format", "text", "--show-updated"])
    shown = capsys.readouterr().out
    assert f"Updated since first shown\n{'-' * 25}\n\n  - {title[:40]}" in shown
    monkeypatch.setenv("DIGEST_SHOW_UPDATED", "true")
    main([*args, "--format", "json"])
    monkeypatch.delenv("DIGEST_SHOW_UPDATED")
    result = json.loads(capsys.readouterr().out)
    assert [u["title"] for u in result["updated"]] == [title]
    assert result["updated"][0]["revised"] is True

    # Delivered once, the revision is what a later listing of it is compared with.
    args.remove("--dry-run")
    assert main([*args, "--format", "text", "--show-updated"]) == 0
    write_dump(inbox / "tomorrow.txt", [(title + ".", abstract + " We release the code.")])
    capsys.readouterr()
    main([*args, "--format", "json", "--show-updated", "--send-empty"])
    result = json.loads(capsys.readouterr().out)
    assert result["updated"] == [] and result["skipped"][0]["rule"] == "same title"


def test_thresholds_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_MATCH_TITLE", "30")
    assert main(["seen", "--state", str(tmp_path / "s.db"), "x"]) == 1
    assert "DIGEST_MATCH_TITLE=30 is out of range: use 50 to 100" in capsys.readouterr().err


def _ingest(tmp_path: Path, seeds: list[Path], stderr: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digest",
            "ingest",
            "--state",
            str(tmp_path / "s.db"),
            *map(str, seeds),
        ],
        stderr=stderr,
        stdout=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")},
    )


@pytest.mark.slow
def test_ingest_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path, seeds: list[Path]) -> None:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = _ingest(tmp_path, seeds, terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    assert b"100%" in shown and b"5/5" in shown

    piped = _ingest(tmp_path / "again", seeds, subprocess.PIPE)
    _, err = piped.communicate(timeout=60)
    assert piped.returncode == 0
    assert b"%|" not in err and b"papers recorded as seen" in err
