"""What the state file costs per day: a year of daily digests, with and without pruning.

    python benchmarks/state_size.py [--days 365] [--papers 50]

Each simulated day drops one dump of `--papers` new papers (synthetic, from the seeds'
vocabulary with a fixed random seed; benchmarks/corpus.py) into the inbox and runs the
pipeline as `digest now` does, mail settings included so that every digest keeps its .eml,
delivering as files. It is run twice on fresh state files: with DIGEST_KEEP_DAYS=30 (sent
digests older than that are compressed) and with pruning off (a keep of 100 years), and
prints the state file's size in use after each quarter.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus import Writer, dump_text  # noqa: E402

from digest import config, pipeline  # noqa: E402
from digest.channels.files import FilesDeliverer  # noqa: E402
from digest.state import open as open_state  # noqa: E402

START = datetime(2026, 1, 1, 7, tzinfo=UTC)


def used_bytes(state: Path) -> int:
    """The bytes of the state file in use, once its write-ahead log is folded in. Pages that
    compression freed stay in the file and take the next digests, so the file itself grows
    by this much a day."""
    with contextlib.closing(sqlite3.connect(state)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size: int = (pages - free) * db.execute("PRAGMA page_size").fetchone()[0]
    return size


def simulate(folder: Path, days: int, papers: int, keep_days: int) -> list[tuple[int, int]]:
    """Sizes of the state file after every 91 days (and the last), as (day, bytes)."""
    inbox, out, state = folder / "inbox", folder / "out", folder / "state.sqlite3"
    inbox.mkdir(parents=True)
    settings = config.load(
        {"inbox": inbox, "state": state, "out": out, "keep_days": keep_days},
        {
            "DIGEST_FROM": "Daily papers <papers@example.org>",
            "DIGEST_TO": "Ann <ann@example.org>",
            "DIGEST_DELIVER": "files",
        },
    )
    writer = Writer()  # the same papers, day after day, for both runs
    sizes = []
    with open_state(state) as store:
        for day in range(days):
            pairs = list(zip(writer.titles(papers), writer.abstracts(papers), strict=True))
            (inbox / f"day-{day:04d}.txt").write_text(dump_text(pairs, day), encoding="utf-8")
            now = START + timedelta(days=day)
            report = pipeline.run_once(settings, store, FilesDeliverer(out), now)
            assert report.ok and report.delivered, report.failed
            for old in out.iterdir():  # the files are the reader's, not the state's
                old.unlink()
            if (day + 1) % 91 == 0 or day == days - 1:
                sizes.append((day + 1, used_bytes(state)))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--papers", type=int, default=50, help="new papers a day")
    args = parser.parse_args()
    results = {}
    for label, keep in (("DIGEST_KEEP_DAYS=30", 30), ("no pruning", 36_500)):
        with tempfile.TemporaryDirectory() as tmp:
            results[label] = simulate(Path(tmp), args.days, args.papers, keep)
    print(f"{args.days} days, {args.papers} new papers a day: state file in use (MB)")
    print(f"{'day':>5}  " + "  ".join(f"{label:>20}" for label in results))
    for i, (day, _) in enumerate(next(iter(results.values()))):
        row = "  ".join(f"{sizes[i][1] / 1e6:>20.2f}" for sizes in results.values())
        print(f"{day:>5}  {row}")
    for label, sizes in results.items():
        day, size = sizes[-1]
        print(f"{label}: {size / day / 1e3:.0f} KB a day")


if __name__ == "__main__":
    main()
