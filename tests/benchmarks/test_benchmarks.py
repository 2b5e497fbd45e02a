"""The identity benchmark runs end to end at a small size (the large sizes are run by hand)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_identity_benchmark_small(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "identity.py"),
            "--sizes",
            "3000",
            "--out",
            str(tmp_path),
            "--baseline-queries",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    header, _, row = result.stdout.strip().splitlines()
    assert "decide 100" in header and "speed-up" in header
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "3,000"
    precision, recall, lost = float(cells[8]), float(cells[9]), int(cells[10])
    assert (precision, lost) == (1.0, 0)  # no new paper lost
    assert recall >= 0.95
    assert (tmp_path / "corpus" / "dump-00002.txt").is_file()


@pytest.mark.slow
def test_status_benchmark_small_scans_no_large_table(tmp_path: Path) -> None:
    from tests.processes import clean_env

    script = ROOT / "benchmarks" / "status.py"
    args = ["--papers", "3000", "--readers", "20", "--runs", "1", "--out", str(tmp_path)]
    output = subprocess.check_output(
        [sys.executable, str(script), *args], text=True, env=clean_env(), timeout=300
    )
    rows = [line.split()[0:2] for line in output.splitlines()]
    assert ["digest", "status"] in rows and ["floor:", "stdlib"] in rows
    assert "reader_counts()" in output and "SEARCH digests USING INDEX digests_status" in output
    assert "scans a large table" not in output
    with sqlite3.connect(tmp_path / "status-3000-20.sqlite3") as db:
        assert db.execute("SELECT sum(papers) FROM paper_counts").fetchone() == (3000,)


@pytest.mark.slow
def test_state_size_benchmark_small() -> None:
    from tests.processes import clean_env

    script = ROOT / "benchmarks" / "state_size.py"
    output = subprocess.check_output(
        [sys.executable, str(script), "--days", "33", "--papers", "5"],
        text=True,
        env=clean_env(),
        timeout=300,
    )
    lines = output.strip().splitlines()
    assert lines[0] == "33 days, 5 new papers a day: state file in use (MB)"
    day, pruned, kept = lines[2].split()
    # Every rendering is stored compressed as it is made (2.5 MB for these days when they were
    # compressed only once older than DIGEST_KEEP_DAYS): pruning has nothing more to gain.
    assert day == "33" and float(pruned) <= float(kept) < 1.5


@pytest.mark.slow
def test_real_days_are_each_shown_exactly_once(tmp_path: Path) -> None:
    import shutil

    days = tmp_path / "days"
    shutil.copytree(ROOT / "tests" / "fixtures" / "real", days)
    (days / "2025-03-18-error.json").write_text("<html>502 Bad Gateway</html>", "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "real_days.py"), "--days", str(days)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "distinct arXiv ids listed: 147" in result.stdout
    assert "shown 147, lost 0, shown twice 0" in result.stdout
    assert "files without a paper: 1, named in a digest: 1" in result.stdout


@pytest.mark.slow
def test_each_dump_is_hashed_once_by_now_and_by_the_service() -> None:
    from tests.processes import clean_env

    output = subprocess.check_output(
        [sys.executable, str(ROOT / "benchmarks" / "hashes.py")],
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert output.splitlines() == [
        "digest now: 1.0 hashes a dump (5 dumps)",
        "digest serve: 1.0 hashes a dump (poll, poll, run)",
    ]


@pytest.mark.slow
def test_relevance_benchmark_ranks_ahead_of_listing_and_highlight_and_times_matching() -> None:
    from tests.processes import clean_env

    output = subprocess.check_output(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "relevance.py"),
            *("--runs", "1", "--only", "digest,listing,highlight", "--matching"),
        ],
        text=True,
        env=clean_env(),
        timeout=300,
    )
    sections = output.strip().split("\n\n")
    assert [s.split()[0] for s in sections] == ["real", "text", "cost:", "matching", "the"]
    for section in sections[:2]:  # the real days, then the text dumps
        rows = {
            cells[0]: [float(c.split()[0]) if c != "-" else None for c in cells[1:]]
            for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| method", "|---"))
            for cells in [[c.strip() for c in line.strip("|").split("|")]]
        }
        ours = rows["digest (with the interest)"]
        for baseline in ("listing order", "keyword highlight of the topic's name"):
            theirs = rows[baseline]
            assert ours[1] > theirs[1] and ours[2] > theirs[2], (baseline, section)
        assert ours[1] >= 0.7  # interests written as the topic's name
    assert "| digest (with the interest) |" in sections[2]
    # A hostile pattern: RE2 flat while the backtracking engine doubles every two letters.
    times = [line.split("|")[2:4] for line in sections[4].splitlines() if line.startswith("| 2")]
    (_, theirs_20), (ours_24, theirs_24) = times[0], times[-1]
    assert float(theirs_24) > 8 * float(theirs_20) and float(ours_24) < 5


def test_tldr_benchmark_agrees_with_the_ai_summaries_better_than_the_old_chooser() -> None:
    from tests.processes import clean_env

    output = subprocess.check_output(
        [sys.executable, str(ROOT / "benchmarks" / "tldr.py"), "--quiet"],
        text=True,
        env=clean_env(),
        timeout=120,
    )
    rows = {
        line[:26].strip(): float(line[26:])
        for line in output.splitlines()
        if line.startswith("  ") and line[26:].strip().replace(".", "").isdigit()
    }
    assert output.startswith("51 papers with an AI summary")
    ours, first, bound = rows["this tree"], rows["first sentence"], rows["best sentence (bound)"]
    [old] = [v for k, v in rows.items() if k.startswith("baseline ")]
    assert first < old < ours <= bound
