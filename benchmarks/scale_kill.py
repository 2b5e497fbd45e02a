"""Many `digest serve` on one PostgreSQL, killed at random while they deliver to a slow mail
server that sometimes says "try later": every reader still gets their digest, once.

    python benchmarks/scale_kill.py [--readers 10000] [--groups 4] [--seed 1] [--speed 1 2 4]

A throwaway PostgreSQL server (DIGEST_TEST_POSTGRES when set, else initdb into a temporary
folder, as the tests do), N readers in a generated readers file, one day of 62 new papers (four
real listings from tests/fixtures/real/), a leader and 3 workers (`digest serve` on the same
state, polling every 0.2 s, scheduled `every 3s`), and aiosmtpd on loopback that thinks a few
ms over each message and answers 451 to a random 5%. Through the run a leader or a worker is
SIGKILLed every few seconds and started again.

The readers share a few settings groups only (--groups, 4 by default: highlights, order and
format): a digest is rendered once per group, so the run measures the outbox, the locks and
the delivery, not rendering (benchmarks/readers.py measures that, with random mixes).

Afterwards, from the messages the server accepted and from the state: every reader got their
digest; no reader got two different digests (one Message-ID and the same bytes for every
copy: a repeat after a kill is the stored message again); the stored message of each reader
lists every paper of the day and the reader has moved past all of them.

Then, with no kills and no refusals, the same day for the same readers on a fresh database
with 1, 2 and 4 delivering services (`--speed`): messages per second, and the CPU seconds each
part used (the services, PostgreSQL, the mail server), to see where the time goes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for where in (ROOT, ROOT / "tests"):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

from mailserver import Handler, Received, smtp_server  # noqa: E402

REAL = ROOT / "tests" / "fixtures" / "real"
DAY = ["2025-07-22.json", "2025-12-10.json", "2026-04-29.json", "2026-08-21.json"]
GROUPS = [  # (highlight, order, format): few groups, so rendering is not what is measured
    ('["video", "diffusion"]', "highlights", "html"),
    ('["agent", "reasoning"]', "upvotes", "text"),
    ('["speech"]', "listing", "html"),
    ('["robot", "3D", "benchmark"]', "highlights", "text"),
]
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.M | re.I)


def readers_file(path: Path, count: int, groups: int) -> list[str]:
    """`count` readers spread over `groups` settings groups, none capped or excluding
    anything (each message then lists every paper of the day): their addresses."""
    lines, emails = [], []
    for n in range(count):
        highlight, order, form = GROUPS[n % min(groups, len(GROUPS))]
        emails.append(f"reader{n}@example.org")
        lines += [
            "[[reader]]",
            f'email = "{emails[-1]}"',
            f"highlight = {highlight}",
            f'order = "{order}"',
            f'format = "{form}"',
            "",
        ]
    path.write_text("\n".join(lines))
    return emails


def day_ids() -> set[str]:
    """The arXiv ids of the day's papers."""
    from digest.formats import parse

    return {p.arxiv_id for n in DAY for p in parse((REAL / n).read_bytes(), n).papers if p.arxiv_id}


def fingerprint(data: bytes) -> str:
    """A message's bytes, whatever line ends the SMTP exchange gave them."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n").rstrip(b"\n")).hexdigest()


@dataclass
class Tally(Handler):
    """The mail server, keeping of each message only what the checks need: its recipient,
    Message-ID, fingerprint and when it was accepted (10,000 whole messages are 1.5 GB)."""

    got: list[tuple[str, str, str, float]] = field(default_factory=list)

    def keep(self, received: Received) -> None:
        found = MESSAGE_ID.search(received.data.split(b"\r\n\r\n", 1)[0])
        ident = found[1].decode() if found else ""
        for rcpt in received.recipients:
            self.got.append((rcpt.lower(), ident, fingerprint(received.data), time.monotonic()))


@dataclass
class Outcome:
    """What the server received and the state holds, and what is wrong with it."""

    readers: int
    accepted: int  # messages the server accepted (repeats included)
    repeats: int  # copies beyond one per reader: all the same message
    refused: int  # answered 451 by the server
    kills: list[str]
    problems: list[str]


def check(url: str, emails: list[str], got: list[tuple[str, str, str, float]]) -> list[str]:
    """Every reader got their digest, the same one each time, with every paper of the day."""
    import psycopg
    from psycopg.rows import dict_row

    from digest.state.packing import Dictionary, dictionary, unraw
    from digest.state.rows import letter_of, outgoing_of

    wanted = day_ids()
    problems: list[str] = []
    stored: dict[str, list[tuple[object, ...]]] = {}
    with psycopg.connect(url, row_factory=dict_row) as db:
        end = db.execute("SELECT value FROM positions WHERE name = 'catalogue'").fetchone()["value"]
        day = db.execute("SELECT count(*) FROM papers WHERE seq IS NOT NULL").fetchone()["count"]
        # The renderings readers share (a few), then each reader's digest as delivered.
        # (and the runs' base renderings they are compressed against: no digest's own).
        found = list(db.execute("SELECT * FROM letters"))
        bases = {row["key"]: row["packed"] for row in found if row["marks"] == "[]"}

        def base(key: str) -> Dictionary:
            return dictionary(key, lambda: unraw(bases[key]))

        letters = {row["id"]: letter_of(row, base) for row in found if row["key"] not in bases}
        with db.cursor(name="digests") as rows:  # on the server: 500 KB a digest
            rows.execute(
                "SELECT r.key AS reader_key, r.upto AS reader_upto, d.* FROM readers r"
                " LEFT JOIN digests d ON d.reader_id = r.id WHERE r.key <> '' ORDER BY r.key, d.id"
            )
            for row in rows:
                key, upto = row["reader_key"], row["reader_upto"]
                if row["id"] is None:
                    stored.setdefault(key, []).append((upto, None, None, "", set(), None, None))
                    continue
                made = outgoing_of(row, letters.get(row["letter_id"]))
                papers = json.loads(made.part("json") or '{"papers": [], "more": []}')
                shown = {p["arxiv_id"] for p in papers["papers"] + papers["more"]}
                sha = fingerprint(made.eml) if made.eml else ""
                ident, after, last = made.message_id, made.after, made.upto
                stored.setdefault(key, []).append(
                    (upto, made.status, ident, sha, shown, after, last)
                )
    if day != len(wanted):
        problems.append(f"{day} papers offered, the day has {len(wanted)}")
    received: dict[str, list[tuple[str, str]]] = {}
    for rcpt, ident, sha, _ in got:
        received.setdefault(rcpt, []).append((ident, sha))
    for email in emails:
        digests = stored.get(email.casefold(), [])
        if len(digests) != 1 or digests[0][1] is None:
            problems.append(f"{email}: {len(digests)} digests in the state")
            continue
        upto, status, ident, sha, shown, after, last = digests[0]
        if status != "sent":
            problems.append(f"{email}: digest {status}")
        if upto != end or last != end or int(last) - int(after) != day:  # type: ignore[call-overload]
            problems.append(f"{email}: moved to {upto}, digest {after}..{last}, end {end}")
        if shown != wanted:
            problems.append(f"{email}: {len(wanted - shown)} papers of the day missing")
        copies = received.get(email.lower(), [])
        if not copies:
            problems.append(f"{email}: nothing received")
        elif {c[0] for c in copies} != {ident}:
            problems.append(f"{email}: Message-IDs {sorted({c[0] for c in copies})}")
        elif {c[1] for c in copies} != {sha}:
            problems.append(f"{email}: received a message other than the stored one")
    if strangers := set(received) - {e.lower() for e in emails}:
        problems.append(f"mail to {len(strangers)} addresses that are no reader")
    return problems


class Services:
    """`digest serve` processes on one state: started, killed, started again, stopped."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.started = 0

    def start(self, slot: int | None = None) -> None:
        self.started += 1
        log = self.folder / f"serve-{self.started}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "digest", "serve", "-v"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.folder,
            )
        if slot is None:
            self.procs.append(proc)
            self.logs.append(log)
        else:
            self.procs[slot], self.logs[slot] = proc, log

    def text(self, slot: int) -> str:
        return self.logs[slot].read_text(errors="replace")

    def leader(self) -> int | None:
        """The slot of the service leading now."""
        leading = [i for i in range(len(self.procs)) if "serving:" in self.text(i)]
        return leading[0] if leading else None

    def kill(self, slot: int) -> str:
        """SIGKILL one service, and start another in its place."""
        role = "leader" if slot == self.leader() else "worker"
        self.procs[slot].send_signal(signal.SIGKILL)
        self.procs[slot].wait()
        self.start(slot)
        return role

    def stop(self) -> list[int]:
        """SIGTERM every service; one that has not stopped a minute later is made to print
        where each of its threads is (faulthandler, on SIGABRT) into its log, and named."""
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        codes = []
        for slot, proc in enumerate(self.procs):
            try:
                codes.append(proc.wait(60))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGABRT)
                proc.wait(30)
                print(f"a service did not stop on SIGTERM: its threads are in {self.logs[slot]}")
                codes.append(-int(signal.SIGABRT))
        return codes

    def end(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def tracebacks(self) -> list[str]:
        return [p.name for p in self.folder.glob("serve-*.log") if "Traceback" in p.read_text()]


def sent(url: str) -> int:
    """Readers' digests delivered so far."""
    import psycopg

    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*) FROM digests WHERE status = 'sent'").fetchone()
    return int(row[0]) if row else 0


def environment(folder: Path, url: str, port: int) -> dict[str, str]:
    inbox = folder / "inbox"
    inbox.mkdir(parents=True)
    for name in DAY:
        shutil.copy(REAL / name, inbox / name)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return {
        **clean,
        "PYTHONFAULTHANDLER": "1",  # a service that hangs can be asked where (see stop)
        "PYTHONPATH": str(ROOT),
        "DIGEST_STATE": url,
        "DIGEST_INBOX": str(inbox),
        "DIGEST_READERS": str(folder / "readers.toml"),
        "DIGEST_FROM": "Daily papers <papers@example.org>",
        "DIGEST_DELIVER": "smtp",
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(port),
        "DIGEST_SMTP_SECURITY": "none",
        "DIGEST_SMTP_TIMEOUT": "3",
        "DIGEST_RETRY_SECONDS": "1",  # a 451 is tried again after 1, 2, 4 ... s
        "DIGEST_UNSUBSCRIBE": "https://papers.example.org/unsubscribe/{token}",
        "DIGEST_SCHEDULE": "every 3s",
        "DIGEST_TIMEZONE": "UTC",
        "DIGEST_POLL_SECONDS": "0.2",
    }


def scenario(
    url: str,
    folder: Path,
    readers: int,
    *,
    services: int = 4,
    groups: int = 4,
    kills: Callable[[Services, int], str | None],
    delay: float = 0.005,
    flaky: float = 0.05,
    timeout: float = 600,
    seed: int = 1,
) -> Outcome:
    """The day for `readers` readers through `services` services on the state at `url`, with
    `kills(services, sent)` called every 0.1 s (it kills what it wants to, and names it)."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = Tally(delay=delay, flaky=flaky, seed=seed)
    kept: list[str] = []
    with smtp_server(handler) as mail:
        env = environment(folder, url, mail.port)
        emails = readers_file(folder / "readers.toml", readers, groups)
        cluster = Services(folder, env)
        try:
            cluster.start()
            _until(lambda: cluster.leader() == 0, 60, "the first service to lead", cluster)
            for _ in range(services - 1):
                cluster.start()
            deadline = time.monotonic() + timeout
            while (done := sent(url)) < readers:
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out: {done} of {readers} sent; logs in {folder}")
                if (what := kills(cluster, done)) is not None:
                    kept.append(what)
                time.sleep(0.1)
            codes = cluster.stop()
        finally:
            cluster.end()
    problems = check(url, emails, handler.got)
    if any(codes):
        problems.append(f"services stopped with exit codes {codes}")
    if broken := cluster.tracebacks():
        problems.append(f"a traceback in {', '.join(broken)}")
    accepted = len(handler.got)
    return Outcome(readers, accepted, accepted - readers, handler.refused, kept, problems)


def random_kills(
    rng: random.Random, every: tuple[float, float]
) -> Callable[[Services, int], str | None]:
    """Once delivery has begun, a SIGKILL every `every` seconds (at random in that range): the
    leader one time in three, else a worker."""
    due = [0.0]

    def kill(cluster: Services, done: int) -> str | None:
        now = time.monotonic()
        if done == 0 or now < due[0]:
            return None
        first = due[0] == 0.0
        due[0] = now + rng.uniform(*every)
        if first:
            return None
        leader = cluster.leader()
        others = [i for i in range(len(cluster.procs)) if i != leader]
        slot = leader if leader is not None and rng.random() < 1 / 3 else rng.choice(others)
        return f"{cluster.kill(slot)} at {done} sent"

    return kill


# -- speed: 1, 2 and 4 delivering services, no kills, no refusals --------------------------------


def cpu_of_postgres(folder: Path) -> float:
    """CPU seconds of our PostgreSQL server (with its data in `folder`): its processes running
    now, and those ended (counted in their parent's); NaN for a server given from outside."""
    pid_file = folder / "data" / "postmaster.pid"
    if not pid_file.exists():
        return float("nan")
    main = pid_file.read_text().split()[0]
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # from the third field, the state
        if main not in (stat.parent.name, fields[1]):
            continue
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
        total += (utime + stime + (cutime + cstime if stat.parent.name == main else 0)) / tick
    return total


def speed(server: str, folder: Path, readers: int, delivering: int, groups: int, pg: Path) -> str:
    """One run with no kills: messages per second and CPU seconds by part."""
    url = fresh_database(server, f"speed_{delivering}")
    before = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
        cpu_of_postgres(pg),
    )
    handler = Tally(delay=0.005)
    with smtp_server(handler) as mail:
        env = environment(folder, url, mail.port)
        readers_file(folder / "readers.toml", readers, groups)
        cluster = Services(folder, env)
        try:
            started = time.monotonic()
            cluster.start()
            _until(lambda: cluster.leader() == 0, 60, "the first service to lead", cluster)
            for _ in range(delivering - 1):
                cluster.start()
            _until(lambda: sent(url) >= readers, 3600, "every digest", cluster)
            cluster.stop()
        finally:
            cluster.end()
    after = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
        cpu_of_postgres(pg),
    )
    times = sorted(t for *_, t in handler.got)
    span = times[-1] - times[0]
    wall = times[-1] - started
    mine = after[0].ru_utime + after[0].ru_stime - before[0].ru_utime - before[0].ru_stime
    services = after[1].ru_utime + after[1].ru_stime - before[1].ru_utime - before[1].ru_stime
    load = database_load(url, len(times))
    return (
        f"{delivering:>10} {len(times):>8} {span:>8.1f} {len(times) / span:>8.1f}"
        f" {wall:>7.1f} {services:>9.1f} {after[2] - before[2]:>9.1f} {mine:>9.1f}   {load}"
    )


def database_load(url: str, messages: int) -> str:
    import psycopg

    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted,"
            " tup_returned + tup_fetched FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        size = db.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None and size is not None
    commits, writes, reads = row
    return (
        f"{commits / messages:.1f} commits, {writes / messages:.1f} rows written,"
        f" {reads / messages:.0f} rows read per message; database {size[0] / 1e6:.0f} MB"
    )


def storage(url: str, readers: int) -> str:
    """What the state keeps per reader after the day: rows, and bytes on disk by table."""
    import psycopg

    with psycopg.connect(url) as db:
        rows = {
            t: db.execute(f"SELECT count(*) FROM {t}".encode()).fetchone()[0]  # type: ignore[index]
            for t in ("readers", "digests", "papers")
        }
        size = {
            t: db.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0]  # type: ignore[index]
            for t in ("readers", "digests", "letters", "papers", "paper_keys", "paper_grams")
        }
        # Each rendering is stored packed: compressed against its run's base rendering.
        packed = db.execute(
            "SELECT count(*), avg(length(packed)) FROM letters WHERE base IS NOT NULL"
        ).fetchone()
        shared = db.execute("SELECT count(*) FROM letters").fetchone()[0]  # type: ignore[index]
    assert packed is not None
    catalogue = sum(size[t] for t in size if t.startswith("paper"))
    return (
        f"state: {rows['readers']} reader rows, {rows['digests']} outbox rows,"
        f" {rows['papers']} paper rows; on disk per reader: outbox"
        f" {(size['digests'] + size['letters']) / readers / 1e3:.1f} kB (its {shared} shared"
        f" renderings {size['letters'] / 1e3:.0f} kB in all), reader row"
        f" {size['readers'] / readers:.0f} B; catalogue (papers, keys, grams)"
        f" {catalogue / 1e6:.1f} MB in all; {packed[0]} renderings stored against their run's"
        f" base rendering, {float(packed[1] or 0) / 1e3:.1f} kB each"
    )


def fresh_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    return f"{server.rpartition('/')[0]}/{name}"


def _until(condition: Callable[[], bool], timeout: float, what: str, cluster: Services) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; logs in {cluster.folder}")
        time.sleep(0.1)


@contextmanager
def postgres(folder: Path) -> Iterator[str]:
    from pgserver import throwaway

    if given := os.environ.get("DIGEST_TEST_POSTGRES"):
        yield given
        return
    folder.mkdir(parents=True, exist_ok=True)
    with throwaway(folder) as url:
        if url is None:
            raise SystemExit("no PostgreSQL: set DIGEST_TEST_POSTGRES, or install PostgreSQL")
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=4, help="distinct settings groups (1-4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--every", type=float, nargs=2, default=(2.0, 5.0), help="seconds between kills"
    )
    parser.add_argument(
        "--speed", type=int, nargs="*", default=[1, 2, 4], help="delivering services"
    )
    parser.add_argument(
        "--speed-readers", type=int, default=0, help="readers of the speed runs (default --readers)"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # Stopped with SIGTERM: the services and the server are stopped on the way out too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    work = Path(tempfile.mkdtemp(prefix="digest-scale-"))
    os.chmod(work, 0o755)
    print(
        f"{args.readers} readers in {args.groups} settings groups, one day of {len(day_ids())}"
        f" papers; a leader and 3 workers on PostgreSQL; mail server: 5 ms a message, 451 to 5%"
    )
    with postgres(work / "pg") as server:
        url = fresh_database(server, "scale_kill")
        started = time.monotonic()
        outcome = scenario(
            url,
            work / "kill",
            args.readers,
            kills=random_kills(rng, tuple(args.every)),
            seed=args.seed,
            timeout=max(600, args.readers * 0.5),  # about 6 messages a second here, when busy
        )
        took = time.monotonic() - started
        leaders = sum(1 for k in outcome.kills if k.startswith("leader"))
        print(
            f"{took:.0f} s; {len(outcome.kills)} SIGKILLs ({leaders} of the leader);"
            f" {outcome.accepted} messages accepted for {outcome.readers} readers"
            f" ({outcome.repeats} repeats, each the stored message again);"
            f" {outcome.refused} answered 451 and retried"
        )
        print(storage(url, args.readers), flush=True)
        for problem in outcome.problems[:20]:
            print("  PROBLEM", problem)
        print(
            "every reader got their digest, once, with every paper"
            if not outcome.problems
            else f"{len(outcome.problems)} problems"
        )
        if args.speed:
            print(
                f"\n{'delivering':>10} {'messages':>8} {'span s':>8} {'msg/s':>8} {'wall s':>7}"
                f" {'cpu serve':>9} {'cpu pg':>9} {'cpu smtp':>9}   PostgreSQL load"
            )
        many = args.speed_readers or args.readers
        for count in args.speed:
            print(
                speed(server, work / f"speed-{count}", many, count, args.groups, work / "pg"),
                flush=True,
            )
    print(f"logs in {work}")
    return 0 if not outcome.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
