"""Real Daily Papers responses fed to `digest now` one day a run, in date order: is every
paper shown exactly once?

Each file of the folder (named so that name order is date order, as `digest fetch` saves
them) is dropped into the inbox and `digest now` delivers its digest as JSON on stdout. The
arXiv ids the responses hold are read independently of digest (JSON, or the Python-repr
strings some days hold), and compared with the ids the digests showed: papers lost, papers
shown twice, and files that no delivered digest named although they could not be read. The
baseline is the same folder read at once, in a single run, on a fresh state.

    python benchmarks/real_days.py [--days tests/fixtures/real]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARXIV = r"^\d{4}\.\d{4,5}$"


def listed_ids(path: Path) -> set[str]:
    """The arXiv ids a saved response lists, read without digest's parser."""
    import re

    try:
        data = json.loads(path.read_bytes())
    except ValueError:
        return set()
    if isinstance(data, dict):
        data = next((data[k] for k in ("data", "papers", "dailyPapers") if k in data), [])
    found = set()
    for item in data if isinstance(data, list) else []:
        if isinstance(item, str):
            try:
                item = ast.literal_eval(item)
            except (ValueError, SyntaxError):
                continue
        paper = item.get("paper", item) if isinstance(item, dict) else {}
        paper_id = str(paper.get("id", "")) if isinstance(paper, dict) else ""
        if re.match(ARXIV, paper_id):
            found.add(paper_id)
    return found


def now(inbox: Path, state: Path) -> tuple[dict[str, object], float]:
    """One `digest now` on the inbox: its JSON digest (empty when nothing was delivered)
    and its wall time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    command = [sys.executable, "-m", "digest", "now", "--inbox", str(inbox)]
    command += ["--state", str(state), "--deliver", "stdout", "--format", "json", "-q"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if "Traceback" in result.stderr:
        raise SystemExit(f"digest failed with a traceback:\n{result.stderr}")
    return (json.loads(result.stdout) if result.stdout.strip() else {}), elapsed


def shown(digest: dict[str, object]) -> list[str]:
    """The arXiv ids a JSON digest shows (in full or listed compactly)."""
    papers = [*digest.get("papers", []), *digest.get("more", [])]  # type: ignore[misc]
    return [p["arxiv_id"] for p in papers if p.get("arxiv_id")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=Path, default=ROOT / "tests" / "fixtures" / "real")
    args = parser.parse_args()
    days = sorted(p for p in args.days.iterdir() if p.suffix == ".json")
    expected = set().union(*(listed_ids(d) for d in days))
    work = Path(tempfile.mkdtemp(prefix="digest-days-"))
    try:
        inbox = work / "inbox"
        inbox.mkdir()
        counts: Counter[str] = Counter()
        named: set[str] = set()
        times = []
        for day in days:
            shutil.copy(day, inbox / day.name)
            digest, elapsed = now(inbox, work / "state.sqlite3")
            times.append(elapsed)
            counts.update(shown(digest))
            for rejected in digest.get("rejected", []):  # type: ignore[attr-defined]
                named.add(str(rejected["file"]))
        # Baseline: every day at once, on a fresh state.
        at_once, at_once_time = now(inbox, work / "fresh.sqlite3")
        unreadable = {d.name for d in days if not listed_ids(d)}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lost = expected - set(counts)
    twice = [i for i, n in counts.items() if n > 1]
    baseline = set(shown(at_once))
    print(f"days: {len(days)}, distinct arXiv ids listed: {len(expected)}")
    print(
        f"one day a run: shown {len(counts)}, lost {len(lost)}, shown twice {len(twice)};"
        f" {sum(times):.2f} s in all, {sorted(times)[len(times) // 2]:.2f} s median a run"
    )
    print(
        f"baseline, all days in one run: shown {len(baseline)}, lost {len(expected - baseline)};"
        f" {at_once_time:.2f} s; one-day-a-run/baseline time {sum(times) / at_once_time:.1f}x"
    )
    print(
        f"files without a paper: {len(unreadable)}, named in a digest: {len(unreadable & named)};"
        f" named as unreadable in all: {len(named)}"
    )
    for paper_id in sorted(lost)[:20]:
        print(f"  lost: {paper_id}")
    for paper_id in sorted(twice)[:20]:
        print(f"  twice: {paper_id}")
    return 1 if lost or twice or unreadable - named else 0


if __name__ == "__main__":
    raise SystemExit(main())
