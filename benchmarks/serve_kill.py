"""Drop dumps into a running `digest serve` the ways people do, SIGKILL it at random moments,
restart it, and check that no paper was lost and none was delivered twice.

The seeds are cut into smaller dumps; each is dropped by atomic rename, by a slow copy in
small pieces, or twice under two names; after each drop the service is killed with SIGKILL
half of the time and started again. At the end it is stopped with SIGTERM and the outbox is
compared with the papers dropped.

    python benchmarks/serve_kill.py [--processed leave|move] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.errors import ParseError  # noqa: E402
from digest.formats import parse  # noqa: E402
from digest.identity.keys import title_key  # noqa: E402


def dumps_from_seeds(paragraphs: int = 40) -> list[bytes]:
    """The seeds cut into dumps of a few dozen paragraphs, each one parseable."""
    found = []
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        parts = seed.read_bytes().split(b"\n\n")
        for start in range(0, len(parts), paragraphs):
            data = b"\n\n".join(parts[start : start + paragraphs])
            try:
                parse(data, "x")
            except ParseError:
                continue
            found.append(data)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processed", choices=("leave", "move"), default="leave")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="digest-kill-"))
    inbox = work / "inbox"
    inbox.mkdir()
    env = {
        **os.environ,
        "DIGEST_INBOX": str(inbox),
        "DIGEST_STATE": str(work / "state.sqlite3"),
        "DIGEST_OUT": str(work / "out"),
        "DIGEST_SCHEDULE": "every 1s",
        "DIGEST_POLL_SECONDS": "0.2",
        "DIGEST_TIMEZONE": "UTC",
        "DIGEST_PROCESSED": args.processed,
    }
    log = (work / "serve.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "digest", "serve"]
        return subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=work)

    dumps = dumps_from_seeds()
    expected = {title_key(p.title) for d in dumps for p in parse(d, "x").papers}
    service, kills = start(), 0
    for i, data in enumerate(dumps):
        name = f"dump{i:03}.txt"
        how = rng.choice(["atomic", "slow", "twice"])
        if how == "slow":
            with (inbox / name).open("wb") as f:
                for at in range(0, len(data), 4000):
                    f.write(data[at : at + 4000])
                    f.flush()
                    time.sleep(0.02)
        else:
            (inbox / (name + ".part")).write_bytes(data)
            os.rename(inbox / (name + ".part"), inbox / name)
            if how == "twice":
                shutil.copy(inbox / name, inbox / ("copy of " + name))
        time.sleep(rng.uniform(0, 1.5))
        if rng.random() < 0.5:
            service.send_signal(signal.SIGKILL)
            service.wait()
            kills += 1
            time.sleep(rng.uniform(0, 0.3))
            service = start()
    time.sleep(4)
    service.send_signal(signal.SIGTERM)
    code = service.wait(30)

    db = sqlite3.connect(work / "state.sqlite3")
    rows = db.execute("SELECT status, json FROM digests").fetchall()
    shown = [title_key(p["title"]) for _, body in rows for p in json.loads(body)["papers"]]
    statuses = sorted({status for status, _ in rows})
    print(
        f"{len(dumps)} dumps dropped, {kills} SIGKILLs; exit {code}; {len(rows)} digests"
        f" ({', '.join(statuses)}); {len(shown)} papers shown,"
        f" {len(shown) - len(set(shown))} twice, {len(expected - set(shown))} lost"
    )
    print(f"state and log in {work}")
    ok = code == 0 and statuses == ["sent"] and len(shown) == len(set(shown)) == len(expected)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
