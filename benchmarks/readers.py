"""Many readers, one day: what digest costs them, against a plain script and the bare sending.

    python benchmarks/readers.py [--readers 1000 10000] [--repeat 3] [--state sqlite]
                                 [--check 5] [--weekly 0.1] [--detail full] [--compile]

One day of 62 new papers (four real listings from tests/fixtures/real/) for N readers with
random mixes (fixed seed) of highlights, excludes, caps, orders and formats, a tenth of them
weekly (`digest now` makes every reader's digest, whatever their schedule), mailed to aiosmtpd
on loopback in this process, which accepts everything. Three sides, each in a process of its
own (benchmarks/child.py) and measured the same way, in turns (digest, script, floor, digest,
script, floor, ...) for --repeat rounds:

- digest: `digest now -q` on a fresh state: a SQLite file, or with --state postgres a fresh
  database on a throwaway PostgreSQL server (--state both: one of each, in turn);
- script: benchmarks/plain_digest.py, the same listings and readers file rendered with one
  Jinja2 template and sent on one connection, no state: the cost of rendering and sending
  alone, not a rival on features;
- floor: the very messages digest sent in that round, resent as they are on one connection
  (benchmarks/resend.py): the cost of moving those bytes and nothing else.

For each side: wall seconds; the CPU seconds of its process (user + system, the kernel's
account) and per reader; the mail server's CPU (its thread's time, less the capture of
digest's messages for the floor) and PostgreSQL's (its processes'), so that the totals
count what the run made others do; messages accepted, and per second from the first to the
last; MB sent; the process's own peak memory. The median and the spread (min-max) over the
rounds, then digest's CPU against the script's and the floor's. After digest's run: the
state's size per reader, its rows, and the distinct renderings kept.

digest's mail is compact by default (top papers with their TL;DR, the rest a line each) while
the script lists every abstract: --detail full makes digest's as long (MB sent says how
long each side's mail was). The top line says whether the children find their bytecode
cached or compile what they import (--compile caches digest's first).

--check K: for K of the readers (fixed seed), `digest now` for that reader alone on a fresh
state: their message must be the one they got in the crowd, byte for byte once set aside
what differs between any two runs: the Date, the Message-ID, the unsubscribe token (an HMAC
of each state's own secret), the MIME boundaries and the minute in the footer.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import functools
import json
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
for where in (ROOT, ROOT / "benchmarks"):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

import child  # noqa: E402
from resend import frame, frames  # noqa: E402

REAL = ROOT / "tests" / "fixtures" / "real"
DAY = ["2025-07-22.json", "2025-12-10.json", "2026-04-29.json", "2026-08-21.json"]
TOPICS = ["video", "diffusion", "agent", "reasoning", "speech", "3D", "robot", "benchmark"]
SENDER = "Daily papers <papers@example.org>"


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
    """An SMTP server on loopback that accepts every message, counts it, times it, and keeps
    its bytes when asked to (`side`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.side(None)

    def side(self, capture: BinaryIO | None) -> None:
        """Start counting anew; keep each message in `capture` when given."""
        with self.lock:
            self.messages = self.bytes = 0
            self.first = self.last = 0.0
            self.capture, self.capture_cpu = capture, 0.0

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        data: bytes = envelope.original_content
        now = time.perf_counter()
        with self.lock:
            self.first = self.first or now
            self.last = now
            self.messages += 1
            self.bytes += len(data)
            if self.capture is not None:
                # Kept for the floor, not part of receiving: left out of the server's CPU.
                start = time.thread_time()
                self.capture.write(frame(envelope.mail_from, envelope.rcpt_tos, data))
                self.capture_cpu += time.thread_time() - start
        return "250 OK"

    def cpu(self) -> float:
        """The CPU seconds the server's thread has used so far (asked in that thread)."""

        async def spent() -> float:
            return time.thread_time()

        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(spent(), self.loop).result()


@contextmanager
def sink_server() -> Iterator[tuple[Sink, int]]:
    """The sink listening on a free port of loopback."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    sink.loop = controller.loop
    try:
        yield sink, port
    finally:
        controller.stop()


class Postgres:
    """A throwaway PostgreSQL server (tests/pgserver.py): a fresh database for each run, its
    size, and the CPU its processes used."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        self.made = 0

    def fresh(self) -> tuple[str, str, int]:
        """A new empty database: its name, URL and size (bytes)."""
        import psycopg

        self.made += 1
        name = f"readers{self.made}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return name, self.url.rsplit("/", 1)[0] + "/" + name, self.size(name)

    def size(self, name: str) -> int:
        """pg_database_size of the database `name`."""
        return self.query(name, f"SELECT pg_database_size('{name}')")

    def query(self, name: str, sql: str) -> int:
        """One number from the database `name`."""
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/" + name) as db:
            row = db.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def cpu(self) -> float:
        """User + system seconds of the server: the postmaster, the connections it has ended
        (reaped, so in its children's time) and the processes running now."""
        tick, total = os.sysconf("SC_CLK_TCK"), 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # ended meanwhile
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == self.pid:
                total += sum(int(f) for f in fields[11:15])
            elif ppid == self.pid:
                total += int(fields[11]) + int(fields[12])
        return total / tick


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A throwaway server for the run, removed afterwards."""
    from tests.pgserver import server

    folder = Path(tempfile.mkdtemp(prefix="digest-readers-postgres-"))
    try:
        with server(folder) as running:
            if running is None:
                raise SystemExit("--state postgres: PostgreSQL is not installed (initdb, pg_ctl)")
            yield Postgres(running.url, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Figures:
    """One side's run."""

    wall: float
    cpu: float
    sink_cpu: float
    server_cpu: float
    accepted: int
    rate: float
    mb: float
    peak_mb: float

    @property
    def total(self) -> float:
        """The CPU the run cost, with what it made the mail server and PostgreSQL do."""
        server = 0.0 if math.isnan(self.server_cpu) else self.server_cpu  # no PostgreSQL
        return self.cpu + self.sink_cpu + server


def measure(
    name: str,
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    sink: Sink,
    capture: Path | None = None,
    pg: Postgres | None = None,
) -> Figures:
    """Run one side in its own process and measure it, and what the servers did for it."""
    with capture.open("wb") if capture else open(os.devnull, "wb") as kept:
        sink.side(kept if capture else None)
        sink_before, pg_before = sink.cpu(), pg.cpu() if pg else 0.0
        cost = child.run(argv, env, cwd)
        sink_after, pg_after = sink.cpu(), pg.cpu() if pg else 0.0
        with sink.lock:
            accepted, sent, spread = sink.messages, sink.bytes, sink.last - sink.first
            kept_cpu = sink.capture_cpu
        sink.side(None)
    if cost.code != 0:
        raise SystemExit(f"{name} exited {cost.code}:\n{cost.stderr[-3000:]}")
    return Figures(
        wall=cost.wall,
        cpu=cost.cpu,
        sink_cpu=sink_after - sink_before - kept_cpu,
        server_cpu=pg_after - pg_before if pg else float("nan"),
        accepted=accepted,
        rate=(accepted - 1) / spread if spread > 0 else float("nan"),
        mb=sent / 1e6,
        peak_mb=cost.peak_mb,
    )


def setup(folder: Path, port: int, detail: str | None = None) -> dict[str, str]:
    """A folder with the day's listings, and the settings of `digest now` on it."""
    inbox = folder / "inbox"
    inbox.mkdir(parents=True)
    for name in DAY:
        shutil.copy(REAL / name, inbox / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "DIGEST_INBOX": str(inbox),
        "DIGEST_STATE": str(folder / "state.sqlite3"),
        "DIGEST_FROM": SENDER,
        "DIGEST_DELIVER": "smtp",
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(port),
        "DIGEST_SMTP_SECURITY": "none",
        "DIGEST_UNSUBSCRIBE": "https://papers.example.org/unsubscribe/{token}",
        **({"DIGEST_DETAIL": detail} if detail else {}),
    }


# The rows a day leaves, and the renderings kept: those readers share (letters), and whole
# messages (an encoding that cut a stand-in). Each asked alone: a table renamed or gone
# costs its own line only.
STATE_QUERIES = {
    "reader rows": "SELECT count(*) FROM readers",
    "paper rows": "SELECT count(*) FROM papers",
    "outbox rows": "SELECT count(*) FROM digests",
    "renderings": "SELECT (SELECT count(*) FROM letters) + count(*) FROM digests"
    " WHERE letter_id IS NULL",
}


def state_rows(ask: Callable[[str], int]) -> dict[str, int | str]:
    """The counts of STATE_QUERIES, or why one could not be read."""
    found: dict[str, int | str] = {}
    for what, sql in STATE_QUERIES.items():
        try:
            found[what] = ask(sql)
        except Exception as error:  # the schema is the state's, and changes: say, go on
            found[what] = f"? ({str(error).splitlines()[0]})"
    return found


def sqlite_rows(state: Path) -> dict[str, int | str]:
    """state_rows of a SQLite state file."""
    import sqlite3

    db = sqlite3.connect(state)
    try:
        return state_rows(lambda sql: int(db.execute(sql).fetchone()[0]))
    finally:
        db.close()


def state_line(count: int, size: int, what: str, rows: dict[str, int | str]) -> str:
    """The state a day for `count` readers left."""
    counts = ", ".join(f"{v:,} {k}" if isinstance(v, int) else f"{k} {v}" for k, v in rows.items())
    return (
        f"  state after digest ({what}): {size / 1e6:.1f} MB, {size / count:,.0f} bytes a reader;"
        f" {counts} (one row per reader and paper would be {count * 62:,} rows)"
    )


def state_size(folder: Path) -> int:
    """The SQLite state's bytes on disk (with its write-ahead log)."""
    return sum(p.stat().st_size for p in folder.glob("state.sqlite3*") if p.is_file())


def cell(values: list[float], digits: int, unit: str = "") -> str:
    """The median, and the spread when there are several rounds."""
    if any(math.isnan(v) for v in values):  # not measured
        return "-"
    shown = (statistics.median(values), min(values), max(values))
    med, low, high = (f"{v:,.{digits}f}" for v in shown)
    return f"{med}{unit}" if low == high else f"{med}{unit} ({low}-{high})"


def table(count: int, runs: dict[str, list[Figures]], postgres: bool) -> list[str]:
    """The figures of every side, one column each."""
    per = 1000 / count
    rows: list[tuple[str, Callable[[Figures], float], int]] = [
        ("wall s", lambda f: f.wall, 2),
        ("CPU s, its process", lambda f: f.cpu, 2),
        ("CPU ms a reader", lambda f: f.cpu * per, 2),
        ("mail server CPU s", lambda f: f.sink_cpu, 2),
    ]
    if postgres:
        rows.append(("PostgreSQL CPU s", lambda f: f.server_cpu, 2))
    rows += [
        ("all CPU ms a reader", lambda f: f.total * per, 2),
        ("messages accepted", lambda f: f.accepted, 0),
        ("messages/s", lambda f: f.rate, 0),
        ("MB sent", lambda f: f.mb, 1),
        ("peak MB, its process", lambda f: f.peak_mb, 0),
    ]
    width = max(26, *(len(c) for c in runs))
    lines = [f"{'':<22}" + "".join(f"{side:>{width}}" for side in runs)]
    for label, value, digits in rows:
        cells = [cell([value(f) for f in figures], digits) for figures in runs.values()]
        lines.append(f"{label:<22}" + "".join(f"{c:>{width}}" for c in cells))
    return lines


def ratios(runs: dict[str, list[Figures]]) -> list[str]:
    """Each digest side's CPU against the script's and the floor's, round by round."""
    lines = []
    for side in (s for s in runs if s.startswith("digest")):
        for other in ("script", "floor"):
            mine, theirs = runs[side], runs[other]
            own = [a.cpu / b.cpu for a, b in zip(mine, theirs, strict=True)]
            total = [a.total / b.total for a, b in zip(mine, theirs, strict=True)]
            lines.append(
                f"{side} CPU / {other} CPU (a reader the same): {cell(own, 1, 'x')};"
                f" with the servers' CPU: {cell(total, 1, 'x')}"
            )
        pace = [a.rate / b.rate for a, b in zip(mine, runs["floor"], strict=True)]
        lines.append(
            f"{side} messages/s against the floor's: {cell([p * 100 for p in pace], 0, '%')}"
        )
    return lines


def bytecode() -> str:
    """Whether the children find the bytecode of digest and of Jinja2 cached, or compile it."""
    import importlib.util

    import jinja2

    def cached(folder: Path) -> str:
        sources = list(folder.rglob("*.py"))
        have = sum(1 for p in sources if Path(importlib.util.cache_from_source(str(p))).exists())
        return f"{have} of {len(sources)}"

    writes = "not written (PYTHONDONTWRITEBYTECODE)" if sys.dont_write_bytecode else "written"
    return (
        f"bytecode {writes}; cached: digest {cached(ROOT / 'digest')} modules,"
        f" jinja2 {cached(Path(jinja2.__file__).parent)}"
    )


def normalised(eml: bytes) -> bytes:
    """A message without what differs between two runs: the Date and Message-ID headers,
    the Message-ID's own part wherever it is, the unsubscribe token wherever it is (a
    quoted-printable soft line break may cut it; an HMAC of the state's secret), the MIME
    boundaries (random for each rendering) and the minute it was made, in its footer."""
    head, _, body = eml.partition(b"\r\n\r\n")
    ident = re.search(rb"^Message-ID:\s*<([^@>\s]+)@", head, re.M | re.I)
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", head)
    token = re.search(rb"/unsubscribe/([0-9a-fA-F]{32})", unfolded)
    dropped = rb"^(?:Date|Message-ID):.*(?:\r\n[ \t].*)*(?:\r\n|$)"
    head = re.sub(dropped, b"", head, flags=re.M | re.I)
    eml = head + b"\r\n\r\n" + body
    for n, boundary in enumerate(re.findall(rb'boundary="([^"]+)"', eml)):
        eml = eml.replace(boundary, b"BOUNDARY-%d" % n)
    for found, mark in ((ident, b"MESSAGE-ID"), (token, b"TOKEN")):
        if found:
            eml = re.sub(_loose([re.escape(bytes([c])) for c in found[1]]), mark, eml)
    made = _loose([rb"\d"] * 4 + [b"-"] + [rb"\d"] * 2 + [b"-"] + [rb"\d"] * 2 + [b" "]
                  + [rb"\d"] * 2 + [b":"] + [rb"\d"] * 2 + [b" ", b"U", b"T", b"C"])  # fmt: skip
    return re.sub(made, b"MADE-AT", eml)


def _loose(pieces: list[bytes]) -> bytes:
    """A pattern of these pieces in a line that quoted-printable may have cut anywhere."""
    return rb"(?:=\r\n)?".join(pieces)


def check(
    count: int,
    wanted: int,
    crowd: Path,
    readers: Path,
    tmp: Path,
    sink: Sink,
    port: int,
    detail: str | None,
) -> list[str]:
    """`digest now` for `wanted` readers each alone, against their message in the crowd."""
    blocks = readers.read_text().split("[[reader]]\n")[1:]
    chosen = sorted(random.Random(5).sample(range(count), min(wanted, count)))
    addresses = {f"reader{n}@example.org": n for n in chosen}
    theirs = {r: data for _, rs, data in frames(crowd) for r in rs if r in addresses}
    matched, first = 0, None
    for address, n in addresses.items():
        folder = tmp / f"alone{n}"
        env = setup(folder, port, detail)
        (folder / "readers.toml").write_text("[[reader]]\n" + blocks[n])
        env["DIGEST_READERS"] = str(folder / "readers.toml")
        measure(
            f"digest now for {address} alone",
            ["-m", "digest", "now", "-q"],
            env,
            folder,
            sink,
            capture=folder / "capture",
        )
        alone = [data for _, rs, data in frames(folder / "capture") if address in rs]
        shutil.rmtree(folder)
        a = normalised(theirs.get(address, b"")).decode(errors="replace")
        b = normalised(alone[0] if alone else b"").decode(errors="replace")
        if a == b and len(alone) == 1:
            matched += 1
        elif first is None:
            diff = difflib.unified_diff(
                a.splitlines(), b.splitlines(), "in the crowd", "alone", lineterm=""
            )
            first = (n, "\n".join(list(diff)[:40]) or f"{len(alone)} messages alone")
    lines = [
        f"  check: {matched} of {len(addresses)} readers' messages alone are the same"
        " as in the crowd (but for Date, Message-ID, the unsubscribe token, the MIME"
        " boundaries and the minute made)"
    ]
    if first:
        lines.append(f"  the first that differs, reader{first[0]}:\n{first[1]}")
    return lines


def run_count(
    count: int, args: argparse.Namespace, tmp: Path, sink: Sink, port: int, pg: Postgres | None
) -> None:
    """Every round for `count` readers, then the figures, the state and the check."""
    base = tmp / f"n{count}"
    shared = setup(base, port)
    readers = base / "readers.toml"
    readers_file(readers, count, args.weekly)
    crowd = base / "crowd"  # the messages of this round's first digest side, for the floor
    backends = ["sqlite", "postgres"] if args.state == "both" else [args.state]
    runs: dict[str, list[Figures]] = {f"digest ({b})": [] for b in backends}
    runs["script"], runs["floor"] = [], []
    states: list[str] = []
    for round_ in range(args.repeat):
        for backend in backends:
            folder = tmp / f"n{count}-{backend}-{round_}"
            env = setup(folder, port, args.detail)
            env["DIGEST_READERS"] = str(readers)
            if backend == "postgres":
                assert pg is not None
                name, env["DIGEST_STATE"], empty = pg.fresh()
            side = f"digest ({backend})"
            figures = measure(
                side,
                ["-m", "digest", "now", "-q"],
                env,
                folder,
                sink,
                capture=crowd if backend == backends[0] else None,
                pg=pg if backend == "postgres" else None,
            )
            runs[side].append(figures)
            if round_ == 0 and backend == "sqlite":
                rows = sqlite_rows(folder / "state.sqlite3")
                states.append(state_line(count, state_size(folder), "SQLite", rows))
            elif round_ == 0:
                assert pg is not None
                rows = state_rows(functools.partial(pg.query, name))
                size = pg.size(name) - empty
                what = f"PostgreSQL, pg_database_size less an empty database's {empty / 1e6:.1f} MB"
                states.append(state_line(count, size, what, rows))
            shutil.rmtree(folder)
        script = [
            str(ROOT / "benchmarks" / "plain_digest.py"),
            shared["DIGEST_INBOX"],
            str(readers),
            "--port",
            str(port),
        ]
        runs["script"].append(measure("the script", script, shared, base, sink))
        floor = [str(ROOT / "benchmarks" / "resend.py"), str(crowd), "--port", str(port)]
        runs["floor"].append(measure("the floor", floor, shared, base, sink))
        print(f"  round {round_ + 1} of {args.repeat} done", file=sys.stderr)
    rounds = f"{args.repeat} rounds: median (min-max)" if args.repeat > 1 else "1 round"
    print(f"\n{count:,} readers, {rounds}")
    for line in table(count, runs, "postgres" in backends) + ratios(runs) + states:
        print(line)
    if args.check:
        for line in check(count, args.check, crowd, readers, tmp, sink, port, args.detail):
            print(line)
    sys.stdout.flush()
    shutil.rmtree(base)


def main() -> None:
    """Run every size, print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three sides")
    parser.add_argument("--state", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument(
        "--check",
        type=int,
        default=0,
        metavar="K",
        help="readers whose message alone is compared with the crowd's",
    )
    parser.add_argument("--weekly", type=float, default=0.1)
    parser.add_argument(
        "--detail",
        choices=["compact", "full"],
        help="DIGEST_DETAIL for digest (default: its own, compact); full lists every abstract,"
        " as the script does",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="compile digest's bytecode first, as an installed package has it",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    if args.compile:
        import compileall

        compileall.compile_dir(ROOT / "digest", quiet=1)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"one day of 62 new papers ({', '.join(DAY)}); SMTP on loopback")
    print(f"{bytecode()}; load average {load} on {os.cpu_count()} CPUs")
    with (
        tempfile.TemporaryDirectory() as folder,
        sink_server() as (sink, port),
        postgres_server() if args.state != "sqlite" else _nothing() as pg,
    ):
        for count in args.readers:
            run_count(count, args, Path(folder), sink, port, pg)


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
