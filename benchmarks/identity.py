"""Benchmark paper identity at scale: ingest, decide, memory, accuracy, and a brute-force baseline.

    python benchmarks/identity.py [--sizes 10000,100000,1000000]

For each size N: a store of the first N papers of the synthetic corpus (benchmarks/corpus.py,
written once into benchmarks/out/ and reused) is filled by `digest ingest` (throughput);
a 100-paper probe dump mixing re-posts with new and near-miss papers is decided by
`digest now --dry-run` (wall time and peak memory of its own process) and in-process
(decision time alone); precision and recall of "seen before" are counted on the probe's
answers. The baseline is rapidfuzz `process.extractOne` of every probe title against all
stored titles (normalised, already in memory), a title counting as seen at score >= 90.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import child  # noqa: E402
import corpus  # noqa: E402
from rapidfuzz import fuzz, process  # noqa: E402

from digest import formats, pipeline  # noqa: E402
from digest.formats import clean  # noqa: E402
from digest.identity.keys import normalise  # noqa: E402
from digest.state import open as open_state  # noqa: E402

DIGEST = ["-m", "digest"]


@dataclass
class Row:
    """The figures of one size."""

    size: int
    ingest_s: float
    ingest_rate: float
    ingest_mb: float
    store_mb: float
    decide_s: float
    now_s: float
    now_mb: float
    precision: float
    recall: float
    lost_new: int
    baseline_s: float
    baseline_precision: float
    baseline_recall: float

    @property
    def ratio(self) -> float:
        """How many times faster than the baseline the decision is."""
        return self.baseline_s / self.decide_s if self.decide_s else float("inf")


def measure_child(args: list[str], env: dict[str, str]) -> tuple[float, float, str, str]:
    """Wall time, peak memory (MB) of this very child, stdout and stderr of `python ARGS`."""
    # The peak as the child itself sees it: its ru_maxrss would count this process's memory.
    cost = child.run(args, env)
    if cost.code != 0:
        raise SystemExit(f"{' '.join(args[1:4])} failed: {cost.stderr[-800:]}")
    return cost.wall, cost.peak_mb, cost.stdout, cost.stderr


def score(answers: list[dict[str, object]], seen_titles: set[str]) -> tuple[float, float, int]:
    """Precision and recall of "seen before", and how many new papers were lost."""
    tp = sum(1 for a in answers if a["seen"] and a["title"] in seen_titles)
    fp = sum(1 for a in answers if not a["seen"] and a["title"] in seen_titles)
    positives = sum(1 for a in answers if a["seen"])
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / positives if positives else 1.0, fp


def bench(size: int, files: list[Path], out: Path, queries: int, verbose: bool) -> Row:
    """All the figures for one store size."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONPATH"] = str(ROOT)
    state = out / f"store-{size}.sqlite3"
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(str(state) + suffix).unlink(missing_ok=True)
    used = files[: -(-size // corpus.PER_FILE)]

    wall, peak, _, _ = measure_child(
        [*DIGEST, "ingest", "--state", str(state), *map(str, used)], env
    )
    ingest = (wall, size / wall, peak)
    store_mb = (
        sum(
            Path(str(state) + s).stat().st_size
            for s in ("", "-wal")
            if Path(str(state) + s).exists()
        )
        / 1e6
    )

    # The probe draws its re-posts from the stored papers.
    stored = [
        (p.title, p.abstract)
        for f in used[:20]
        for p in formats.parse(f.read_bytes(), f.name).papers
    ]
    probe_dir = out / f"probe-{size}"
    shutil.rmtree(probe_dir, ignore_errors=True)
    cases = corpus.probe(stored)
    probe_path = corpus.write_probe(probe_dir, cases)
    answers = json.loads((out / f"probe-{size}-answers.json").read_text())
    for a in answers:  # titles as the parser reads them back
        a["title"] = clean(a["title"])

    now_wall, now_peak, stdout, _ = measure_child(
        [
            *DIGEST,
            "now",
            "--inbox",
            str(probe_dir),
            "--state",
            str(state),
            "--deliver",
            "stdout",
            "--format",
            "json",
            "--dry-run",
        ],
        env,
    )
    result = json.loads(stdout)
    seen_titles = {s["title"] for s in result["skipped"]}
    precision, recall, lost = score(answers, seen_titles)
    if verbose:
        shown = {p["title"] for p in result["papers"]}
        for a in answers:
            wrong = (a["title"] in shown) if a["seen"] else (a["title"] in seen_titles)
            if wrong:
                print(f"  wrong: {a['case']}: {a['title']}", file=sys.stderr)

    papers = formats.parse(probe_path.read_bytes(), probe_path.name).papers
    with open_state(state) as store:
        pipeline.decide(papers[:5], store)  # warm the page cache as a daily run finds it
        start = time.perf_counter()
        pipeline.decide(papers, store)
        decide_s = time.perf_counter() - start
        titles = [normalise(t) for chunk in store.all_titles() for t in chunk.values()]

    probe_titles = [normalise(p.title) for p in papers[:queries]]
    start = time.perf_counter()
    best = [process.extractOne(t, titles, scorer=fuzz.ratio) for t in probe_titles]
    baseline_s = (time.perf_counter() - start) * len(papers) / len(probe_titles)
    baseline_seen = {p.title for p, b in zip(papers, best, strict=False) if b and b[1] >= 90}
    asked = {p.title for p in papers[:queries]}
    b_precision, b_recall, _ = score([a for a in answers if a["title"] in asked], baseline_seen)

    return Row(
        size,
        ingest[0],
        ingest[1],
        ingest[2],
        store_mb,
        decide_s,
        now_wall,
        now_peak,
        precision,
        recall,
        lost,
        baseline_s,
        b_precision,
        b_recall,
    )


def table(rows: list[Row]) -> str:
    """The figures as a Markdown table."""
    head = (
        "| papers stored | ingest | ingest rate | ingest peak | store size | decide 100"
        " | `digest now` wall | `digest now` peak | precision | recall | new lost"
        " | baseline extractOne | baseline P / R | speed-up |\n" + "|---" * 14 + "|\n"
    )
    return head + "".join(
        f"| {r.size:,} | {r.ingest_s:.1f} s | {r.ingest_rate:,.0f}/s | {r.ingest_mb:.0f} MB"
        f" | {r.store_mb:,.0f} MB | {r.decide_s * 1000:.0f} ms | {r.now_s:.2f} s"
        f" | {r.now_mb:.0f} MB | {r.precision:.3f} | {r.recall:.3f} | {r.lost_new}"
        f" | {r.baseline_s:.2f} s | {r.baseline_precision:.2f} / {r.baseline_recall:.2f}"
        f" | {r.ratio:,.0f}x |\n"
        for r in rows
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="store sizes, comma separated"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument(
        "--baseline-queries",
        type=int,
        default=100,
        metavar="N",
        help="probe titles the baseline really runs (its time is scaled to 100)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list wrong decisions")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    files = corpus.write_corpus(args.out / "corpus", max(sizes))
    rows = []
    for size in sizes:
        rows.append(bench(size, files, args.out, args.baseline_queries, args.verbose))
        print(table(rows[-1:]).splitlines()[-1], file=sys.stderr)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
