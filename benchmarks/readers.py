"""Many readers, one day: every reader's message built and accepted by a local SMTP server.

    python benchmarks/readers.py [--readers 100 1000 10000] [--weekly 0.1]

One day of 62 new papers (four real listings from tests/fixtures/real/) for N readers with
random mixes (fixed seed) of highlights, excludes, caps, orders and formats, a tenth of them
weekly (`digest now` makes every reader's digest, whatever their schedule). Each N runs in a
fresh process on a fresh SQLite state file, `digest now` as the CLI runs it, against aiosmtpd
on loopback in this process; it prints the wall time, the cost per reader, the peak memory of
the run's process, the messages the server accepted and the distinct renderings.

The baseline, measured in the same run: one single-reader run of the same day (DIGEST_TO),
times the number of readers: what N readers would cost as N separate installations.

The state a reader costs is printed too: rows and bytes per reader after the day, against
what one row per (reader, paper) would need.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"
DAY = ["2025-07-22.json", "2025-12-10.json", "2026-04-29.json", "2026-08-21.json"]
TOPICS = ["video", "diffusion", "agent", "reasoning", "speech", "3D", "robot", "benchmark"]


def readers_file(path: Path, count: int, weekly: float, seed: int = 7) -> None:
    """`count` readers with random mixes of settings."""
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        lines.append("[[reader]]")
        lines.append(f'email = "reader{n}@example.org"')
        if rng.random() < 0.7:
            lines.append(f"highlight = {json.dumps(rng.sample(TOPICS, rng.randint(1, 3)))}")
        if rng.random() < 0.2:
            lines.append(f'exclude = "{rng.choice(TOPICS)}"')
        lines.append(f"max_papers = {rng.choice([0, 5, 10, 20, 30])}")
        lines.append(f'order = "{rng.choice(["highlights", "listing", "upvotes"])}"')
        lines.append(f'format = "{rng.choice(["html", "html", "html", "text"])}"')
        if rng.random() < weekly:
            lines.append('schedule = "@weekly"')
        lines.append("")
    path.write_text("\n".join(lines))


class Sink:
    """An SMTP server on loopback that accepts every message and counts it."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        with self.lock:
            self.messages += 1
            self.bytes += len(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"


def one_run(folder: Path, env: dict[str, str]) -> tuple[float, int]:
    """`digest now` in its own process: wall seconds and its peak memory (KB)."""
    script = (
        "import resource, sys, time\n"
        "from digest.cli import main\n"
        "t = time.perf_counter()\n"
        "code = main(['now', '-q'])\n"
        "elapsed = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(elapsed, peak, code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"the run failed:\n{done.stderr}")
    elapsed, peak, code = done.stdout.split()
    if code != "0":
        raise SystemExit(f"digest now exited {code}:\n{done.stderr}")
    return float(elapsed), int(peak)


def setup(folder: Path, port: int) -> dict[str, str]:
    inbox = folder / "inbox"
    inbox.mkdir(parents=True)
    for name in DAY:
        shutil.copy(REAL / name, inbox / name)
    return {
        "DIGEST_INBOX": str(inbox),
        "DIGEST_STATE": str(folder / "state.sqlite3"),
        "DIGEST_FROM": "Daily papers <papers@example.org>",
        "DIGEST_DELIVER": "smtp",
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(port),
        "DIGEST_SMTP_SECURITY": "none",
        "DIGEST_UNSUBSCRIBE": "https://papers.example.org/unsubscribe/{token}",
    }


def state_rows(state: Path) -> dict[str, int]:
    import sqlite3

    db = sqlite3.connect(state)
    found = {
        t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("readers", "papers", "digests")
    }
    # The renderings kept: those readers share, and whole messages (an encoding that cut a
    # stand-in); the same as the distinct renderings the run made.
    found["renders"] = db.execute(
        "SELECT (SELECT count(*) FROM letters) + count(*) FROM digests WHERE letter_id IS NULL"
    ).fetchone()[0]
    db.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--weekly", type=float, default=0.1)
    args = parser.parse_args()

    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    cached = "bytecode cached" if not sys.dont_write_bytecode else "PYTHONDONTWRITEBYTECODE set"
    print(f"one day of 62 new papers ({', '.join(DAY)}); SMTP on loopback; {cached}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "single"
            env = setup(folder, port)
            env["DIGEST_TO"] = "Ann <ann@example.org>"
            before = sink.messages
            single, single_peak = one_run(folder, env)
            assert sink.messages == before + 1
            print(
                f"baseline: one single-reader run {single * 1000:.0f} ms,"
                f" peak {single_peak / 1024:.0f} MB"
            )
            print(
                f"{'readers':>8} {'wall s':>8} {'ms/reader':>10} {'baseline s':>11} {'ratio':>6}"
                f" {'peak MB':>8} {'accepted':>9} {'renders':>8} {'MB sent':>8}"
            )
            for count in args.readers:
                folder = Path(tmp) / f"n{count}"
                env = setup(folder, port)
                readers_file(folder / "readers.toml", count, args.weekly)
                env["DIGEST_READERS"] = str(folder / "readers.toml")
                before, sent = sink.messages, sink.bytes
                elapsed, peak = one_run(folder, env)
                accepted = sink.messages - before
                rows = state_rows(folder / "state.sqlite3")
                baseline = single * count
                print(
                    f"{count:>8} {elapsed:>8.1f} {elapsed / count * 1000:>10.2f}"
                    f" {baseline:>11.1f} {baseline / elapsed:>5.1f}x {peak / 1024:>8.0f}"
                    f" {accepted:>9} {rows['renders']:>8} {(sink.bytes - sent) / 1e6:>8.0f}"
                )
                size = (folder / "state.sqlite3").stat().st_size
                per_pair = count * 62
                print(
                    f"{'':>8} state: {rows['readers']} reader rows"
                    " (one each, one number of progress),"
                    f" {rows['papers']} paper rows, {rows['digests']} outbox rows;"
                    f" one row per (reader, paper) would be {per_pair:,} rows;"
                    f" file {size / 1e6:.1f} MB, {size / count / 1e3:.1f} kB a reader (the"
                    " outbox keeps each rendering once, and each reader's own few bytes)"
                )
    finally:
        controller.stop()
    time.sleep(0)


if __name__ == "__main__":
    main()
