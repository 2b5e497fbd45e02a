"""`digest status` on a state of a million papers: the whole process and its queries alone.

    python benchmarks/status.py [--papers 1000000] [--readers 1000] [--runs 11]
    python benchmarks/status.py --compare /other/checkout   # that version's code too

The state is built once and kept under benchmarks/out/ (rebuilt with --rebuild; with
--compare, one for each version, made by its own code, as their schemas may differ): an empty
state made by `digest.state.open`, the papers, their keys and a few grams each written in
bulk the way the catalogue holds them (realistic titles, abstracts and data, from
benchmarks/corpus.py's vocabulary), a dump log of a few hundred dumps (a few rejected),
the readers joined and some paused or unsubscribed on their own, and a few hundred digests
of the one reader of DIGEST_TO made, delivered (most), refused or retried through the store,
and the older ones compacted as `prune` does.

Prints the medians of the whole process (`python -c pass`, the standard library's floor from
benchmarks/startup.py, `digest status`), as installed and with bytecode compiled, then each
query `digest status` makes, in process, with SQLite's plan for every statement it ran; a
plan that scans a table other than the small ones is marked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT / "benchmarks"))

from startup import Case, floor_cases, installed_then_compiled  # noqa: E402

DUMPS = 500  # a dump log of a few hundred dumps, some of them rejected
DIGESTS = 300  # digests of the one reader of DIGEST_TO, spread over the catalogue
SMALL = {"dumps", "digests", "readers", "service_state", "paper_counts", "positions"}
START = datetime(2025, 1, 1, 7, tzinfo=UTC)


def build(path: Path, papers: int, readers: int) -> None:
    """A state of `papers` papers, `readers` readers and their outbox (see the docstring)."""
    # digest first: corpus.py puts this checkout on the path, which would hide --compare's.
    from digest import state
    from digest.models import Outgoing

    from corpus import Writer  # isort: skip

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with state.open(path) as store:  # the schema, through the real code
        store.join({"": None})
    writer = Writer()
    pool = 20_000  # titles and abstracts drawn once, each title made unique by its number
    titles, abstracts = writer.titles(pool), writer.abstracts(pool)
    per_dump = max(papers // DUMPS, 1)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA cache_size = -512000")
    db.execute("BEGIN")
    first_seen = START.isoformat(timespec="seconds")
    for start in range(0, papers, 50_000):
        rows, keys, grams = [], [], []
        for i in range(start + 1, min(start + 50_000, papers) + 1):
            title = f"{titles[i % pool]} {i}"
            abstract = abstracts[(i * 7) % pool]
            day = (START + timedelta(days=(i - 1) // per_dump)).date().isoformat()
            arxiv = f"{2501 + i // 100_000}.{i % 100_000:05d}"
            data = json.dumps(
                {
                    "title": title,
                    "abstract": abstract,
                    "source": f"{day}.json",
                    "listing_date": day,
                    "arxiv_id": arxiv,
                    "authors": ["A. Author", "B. Author"],
                    "upvotes": i % 97,
                },
                ensure_ascii=False,
            )
            rows.append((i, title, abstract, f"{day}.json", day, first_seen, i, day, data))
            keys += [(f"x:{arxiv}", i), (f"t:{title.lower()}", i)]
            grams += [((i * 2654435761 + g) % 2**40, i) for g in range(4)]
        db.executemany(
            "INSERT INTO papers (id, title, abstract, first_dump, listing_date, first_seen,"
            " seen, seq, listed, data) VALUES (?,?,?,?,?,?,0,?,?,?)",
            rows,
        )
        db.executemany("INSERT INTO paper_keys VALUES (?, ?)", sorted(keys))
        db.executemany("INSERT OR IGNORE INTO paper_grams VALUES (?, ?)", sorted(grams))
    db.execute("UPDATE paper_counts SET papers = ? WHERE seen = 0", (papers,))
    db.execute("UPDATE positions SET value = ? WHERE name = 'catalogue'", (papers,))
    dumps = []
    for n in range(DUMPS):
        day = (START + timedelta(days=n)).date().isoformat()
        dumps.append((f"{n:064x}", f"{day}.json", day, per_dump, "ingested", None, first_seen))
    for n in range(5):  # the first three told by a digest below, the last two not yet
        why = "not a Daily Papers listing: no papers found"
        dumps.append((f"bad{n:061x}", f"broken-{n}.json", None, 0, "rejected", why, first_seen))
    db.executemany(
        "INSERT INTO dumps (sha256, name, listing_date, paper_count, status, reason,"
        " ingested_at) VALUES (?,?,?,?,?,?,?)",
        dumps,
    )
    db.execute("COMMIT")
    db.close()

    names = {f.name for f in __import__("dataclasses").fields(Outgoing)}
    parts = {
        "html": "<p>" + abstracts[0] * 20 + "</p>",
        "text": abstracts[1] * 8,
        "markdown": abstracts[2] * 8,
        "json": json.dumps([abstracts[3]] * 20),
    }
    # The outbox's renderings as this version of Outgoing holds them.
    rendered = {"parts": parts} if "parts" in names else parts
    with state.open(path) as store:
        joined = store.join({f"reader{n}@example.org": None for n in range(readers)})
        for n, reader in enumerate(joined.values()):
            if n % 100 == 1:
                store.set_prefs(reader.id, {"paused": True})
            elif n % 200 == 2:
                store.set_prefs(reader.id, {"unsubscribed": True, "highlight": "agents"})
        me = store.join({"": None})[""]
        step = papers // DIGESTS
        for n in range(DIGESTS):
            created = START + timedelta(days=n)
            item = Outgoing(
                id=0,
                created=created,
                status="pending",
                message_id=f"<digest-{n}@example.org>",
                subject=f"Daily papers: {step} new",
                paper_count=step,
                eml=b"From: digest@example.org\r\n\r\n" + parts["html"].encode() * 2,
                reader=me.id,
                after=n * step,
                upto=(n + 1) * step,
                **rendered,  # type: ignore[arg-type]
            )
            (stored,) = store.enqueue([item], [f"bad{k:061x}" for k in range(3)] if n == 0 else [])
            if n < DIGESTS - 3:
                store.mark_sent(stored.id, "to 1 recipient", at=created)
            elif n == DIGESTS - 3:
                store.mark_failed(stored.id, "550 mailbox unavailable")
            elif n == DIGESTS - 2:
                store.mark_retry(stored.id, "421 try later", created + timedelta(minutes=5))
        store.prune(START + timedelta(days=DIGESTS - 30))
        store.set_service_state(
            started_at=START.isoformat(),
            stopped_at=(START + timedelta(days=DIGESTS)).isoformat(),
            schedule="0 7 * * *",
            pid="4242",
            last_run=(START + timedelta(days=DIGESTS - 1)).isoformat(),
            last_result="1 digest delivered",
            last_success=(START + timedelta(days=DIGESTS - 1)).isoformat(),
        )


def holds(path: Path, papers: int, readers: int) -> bool:
    """Whether the state at `path` is one `build` made with these sizes."""
    if not path.exists():
        return False
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            (count,) = db.execute("SELECT sum(papers) FROM paper_counts").fetchone()
            (people,) = db.execute("SELECT count(*) FROM readers").fetchone()
        except sqlite3.Error:
            return False
    return bool(count == papers and people == readers + 1)


def queries(path: Path, runs: int) -> None:
    """Time each query of `digest status` in process (medians), then show their plans."""
    from digest import state

    store = state.open(path)
    calls = {
        "counts()": lambda: store.counts(),
        "reader_counts()": lambda: store.reader_counts(),
        "outgoing(status='pending')": lambda: store.outgoing(status="pending"),
        "outgoing(status='failed')": lambda: store.outgoing(status="failed"),
        "recent()": lambda: store.recent(),
        "untold_rejections()": lambda: store.untold_rejections(),
        "rejected_dumps(5)": lambda: store.rejected_dumps(5),
        "service_state()": lambda: store.service_state(),
        "serving()": lambda: store.serving(),
    }
    calls = {k: v for k, v in calls.items() if hasattr(store, k.partition("(")[0])}
    db: sqlite3.Connection = store.db  # type: ignore[attr-defined]
    ran: dict[str, list[str]] = {name: [] for name in calls}
    total = []
    for n in range(runs):
        began = time.perf_counter()
        for name, call in calls.items():
            statements = ran[name] if n == 0 else []
            db.set_trace_callback(statements.append)
            call()
            db.set_trace_callback(None)
        total.append(time.perf_counter() - began)
    opened = []
    for _ in range(runs):
        began = time.perf_counter()
        state.open(path).close()
        opened.append(time.perf_counter() - began)
    print(f"{'query (in process)':40} {'median ms':>10}")
    print(f"{'open the state (checks, migrations)':40} {statistics.median(opened) * 1000:10.2f}")
    for name, call in calls.items():
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
        print(f"{name:40} {statistics.median(times) * 1000:10.2f}")
    print(f"{'all of them':40} {statistics.median(total) * 1000:10.2f}")
    print("plans:")
    for name, statements in ran.items():
        for sql in statements:
            plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            big = [p for p in plan if p.startswith("SCAN") and p.split()[1] not in SMALL]
            mark = "  <-- scans a large table" if big else ""
            print(f"  {name}: {' '.join(sql.split())[:110]}{mark}")
            for step in plan:
                print(f"      {step}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--readers", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--rebuild", action="store_true", help="build the state again")
    parser.add_argument("--out", type=Path, default=OUT, help="where the state is kept")
    parser.add_argument("--compare", type=Path, metavar="DIR", help="also time this checkout")
    parser.add_argument("--queries", type=Path, metavar="STATE", help=argparse.SUPPRESS)
    parser.add_argument("--build", type=Path, metavar="STATE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.queries:  # the in-process part, run under each version's code
        queries(args.queries, args.runs)
        return
    if args.build:  # likewise: each version's state is made by its own code (its schema)
        began = time.perf_counter()
        build(args.build, args.papers, args.readers)
        print(f"built {args.build} in {time.perf_counter() - began:.0f} s")
        return

    py = sys.executable
    # The console script, as a user runs it (`python -m` adds runpy's own import cost).
    script = shutil.which("digest", path=str(Path(py).parent))
    digest = [script] if script else [py, "-m", "digest"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    name = f"status-{args.papers}-{args.readers}"
    versions = {"": (env, args.out / f"{name}.sqlite3")}
    if args.compare:
        other = {**env, "PYTHONPATH": str(args.compare.resolve())}
        versions[f" ({args.compare.name})"] = (
            other,
            args.out / f"{name}-{args.compare.name}.sqlite3",
        )
    for version_env, path in versions.values():
        if args.rebuild or not holds(path, args.papers, args.readers):
            sizes = ["--papers", str(args.papers), "--readers", str(args.readers)]
            subprocess.run(
                [py, __file__, "--build", str(path), *sizes], env=version_env, check=True
            )
        print(
            f"{path}: {path.stat().st_size / 1e6:,.0f} MB, {args.papers:,} papers,"
            f" {args.readers:,} readers"
        )
    path = versions[""][1]
    with tempfile.TemporaryDirectory(prefix="digest-status-") as work:
        empty = Path(work) / "inbox"
        empty.mkdir()
        cases: dict[str, Case] = {"python -c pass": ([py, "-c", "pass"], None, env)}
        cases |= floor_cases(
            py, Path(work), ["now", "--inbox", str(empty), "--state", str(path)], env
        )
        for label, (version_env, state) in versions.items():
            command = [*digest, "status", "--state", str(state)]
            cases[f"digest status{label}"] = (command, None, version_env)
        print("whole process:")
        installed_then_compiled(cases, args.runs, py, [e for e, _ in versions.values()])
    for label, (version_env, state) in versions.items():
        print(f"\nqueries{label}:", flush=True)
        subprocess.run(
            [py, __file__, "--queries", str(state), "--runs", str(args.runs)],
            env=version_env,
            check=True,
        )


if __name__ == "__main__":
    main()
