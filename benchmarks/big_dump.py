"""What a big dump costs: time and peak memory of `parse` and of `digest now`, each in a process
of its own, against the same measured on one real day in the same run.

Cases (files written once into a temporary folder):
  - one real day of the Daily Papers API (the baseline),
  - a million tiny items (29 MB, legal under the 50 MB file limit), as a bare array and
    wrapped under `data`: refused before anything is decoded,
  - just under the bound on JSON values: decoded, then refused by the bound on items,
  - 5,000 items shaped like real ones (the largest dump digest reads).

    python benchmarks/big_dump.py [--skip-now]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"
BASELINE = REAL / "2025-03-18.json"

# Runs in the child: parse one file, print the seconds parse took and the outcome as JSON.
PARSE = """
import json, sys, time
from digest.errors import ParseError
from digest.formats import parse
path = sys.argv[1]
data = open(path, "rb").read()
start = time.perf_counter()
try:
    outcome = f"{len(parse(data, path).papers):,} papers"
except ParseError as e:
    outcome = "refused: " + e.why
print(json.dumps([time.perf_counter() - start, outcome]))
"""


def tiny_items(count: int) -> bytes:
    """`count` items of about 29 bytes each: the smallest a paper item can be."""
    return b"[" + b",".join(b'{"paper":{"id":"%010d"}}' % i for i in range(count)) + b"]"


def real_shaped(count: int) -> bytes:
    """`count` distinct items copied from the real days, each with its own id and title."""
    models = [
        item
        for path in sorted(REAL.glob("*.json"))
        for item in json.loads(path.read_text(encoding="utf-8"))
        if isinstance(item, dict)
    ]
    shuffle = random.Random(5).shuffle
    items = []
    for n in range(count):
        item = json.loads(json.dumps(models[n % len(models)]))
        paper = item["paper"]
        # Words reordered: as different from one another as distinct papers are.
        for key in ("title", "summary"):
            words = paper[key].split()
            shuffle(words)
            paper[key] = item[key] = " ".join(words)
        paper["id"] = f"{2601 + n // 90000}.{n % 90000 + 10000:05d}"
        items.append(item)
    return json.dumps(items).encode()


# Runs a command in a child of its own, so that the children's peak RSS is that command's.
WRAP = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
lines = (done.stderr or done.stdout).strip().splitlines()
last = lines[-1] if lines else f"exit {done.returncode}"
print(json.dumps([seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, last]))
"""


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and the last line printed, of one command."""
    done = subprocess.run(
        [sys.executable, "-c", WRAP, *cmd], env=env, capture_output=True, text=True, check=True
    )
    seconds, peak_kb, last = json.loads(done.stdout)
    return seconds, peak_kb / 1024, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-now", action="store_true", help="measure parse only")
    args = parser.parse_args()

    from digest.formats.common import MAX_ITEMS, MAX_VALUES

    work = Path(tempfile.mkdtemp(prefix="digest-big-"))
    files = {
        "one real day (baseline)": BASELINE,
        "1M tiny items, bare array": work / "million.json",
        "1M tiny items, under data": work / "million-data.json",
        "values just under the bound": work / "under-values.json",
        f"{MAX_ITEMS:,} real-shaped items": work / "largest.json",
    }
    files["1M tiny items, bare array"].write_bytes(tiny_items(1_000_000))
    files["1M tiny items, under data"].write_bytes(
        b'{"status": "success", "count": 1000000, "data": ' + tiny_items(1_000_000) + b"}"
    )
    # Each tiny item counts three values (two objects, one comma).
    files["values just under the bound"].write_bytes(tiny_items(MAX_VALUES // 3 - 1))
    files[f"{MAX_ITEMS:,} real-shaped items"].write_bytes(real_shaped(MAX_ITEMS))

    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    rows = []
    base: tuple[float, float] | None = None
    for label, path in files.items():
        _, peak, line = measure([sys.executable, "-c", PARSE, str(path)], env)
        inner, outcome = json.loads(line)
        base = base or (inner, peak)
        size = path.stat().st_size / 1e6
        rows.append(("parse", label, size, inner, peak, base, outcome))

    if not args.skip_now:
        now_base: tuple[float, float] | None = None
        for label, extra in (
            ("one real day (baseline)", None),
            ("one real day + 1M tiny items", files["1M tiny items, bare array"]),
            (f"{MAX_ITEMS:,} real-shaped items", files[f"{MAX_ITEMS:,} real-shaped items"]),
        ):
            inbox = work / f"inbox-{len(rows)}"
            inbox.mkdir()
            if extra is None or "+" in label:
                (inbox / BASELINE.name).write_bytes(BASELINE.read_bytes())
            if extra is not None:
                (inbox / extra.name).write_bytes(extra.read_bytes())
            cmd = [
                sys.executable, "-m", "digest", "now", "--inbox", str(inbox),
                "--state", str(inbox / "state.sqlite3"), "--out", str(inbox / "out"),
            ]  # fmt: skip
            seconds, peak, line = measure(cmd, env)
            now_base = now_base or (seconds, peak)
            size = sum(p.stat().st_size for p in inbox.glob("*.json")) / 1e6
            rows.append(("digest now", label, size, seconds, peak, now_base, line))

    print(f"{'what':<11} {'case':<31} {'MB':>6} {'seconds':>8} {'x base':>7} {'peak MB':>8}"
          f" {'x base':>7}  outcome")  # fmt: skip
    for what, label, size, seconds, peak, (b_s, b_m), outcome in rows:
        print(
            f"{what:<11} {label:<31} {size:6.1f} {seconds:8.3f} {seconds / b_s:7.1f}"
            f" {peak:8.0f} {peak / b_m:7.2f}  {outcome[:90]}"
        )


if __name__ == "__main__":
    main()
