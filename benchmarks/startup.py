"""Whole-process cost of `digest now`, as cron pays it, against bare Python in the same run.

Prints, as medians over several runs:
  - `python -c pass` (the baseline),
  - the floor: the standard library alone doing what any such command must (argparse with one
    subcommand, logging, pathlib, a SQLite query, listing the inbox), then the same with
    dataclasses imported (which loads inspect, ast and dis): what is left above these is
    digest's own,
  - `digest now` on an empty inbox with an existing state file (start-up cost),
  - `digest now` on the five bundled seeds with a fresh state file (ingest + render + write),
  - `digest --version`,
each with its ratio to the baseline, twice: first as this environment runs it (the standard
library precompiled by the Python install, digest and its dependencies compiled from source
on every run when PYTHONDONTWRITEBYTECODE is set), then with their bytecode compiled once
(`python -m compileall`, removed again afterwards). Each table says which it is.

    python benchmarks/startup.py [--runs 15]
    PYTHONPATH=/other/checkout python benchmarks/startup.py   # another version's code
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict[str, str], setup: object = None) -> tuple[float, float]:
    """The command's wall time and its CPU time (user + system, which other work on a busy
    machine disturbs less), in seconds."""
    if callable(setup):
        setup()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", help="also time the digest of this checkout"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_OUT"] = str(work / "out")
    empty_inbox, seed_inbox = work / "empty", work / "seeds"
    empty_inbox.mkdir()
    shutil.copytree(ROOT / "seeds", seed_inbox)
    state = work / "state.sqlite3"
    py = sys.executable
    # The console script, as cron runs it (`python -m` adds runpy's own import cost).
    script = shutil.which("digest", path=str(Path(py).parent))
    digest = [script] if script else [py, "-m", "digest"]
    versions = {"": env}
    if args.compare:
        versions[f" ({args.compare.name})"] = {**env, "PYTHONPATH": str(args.compare.resolve())}

    cases: dict[str, Case] = {"python -c pass": ([py, "-c", "pass"], None, env)}
    cases |= floor_cases(
        py, work, ["now", "--inbox", str(empty_inbox), "--state", f"{state}.0"], env
    )
    for n, (label, version_env) in enumerate(versions.items()):
        at = f"{state}.{n}"  # each version its own state file: their schemas may differ
        subprocess.run(
            [*digest, "now", "--inbox", str(empty_inbox), "--state", at],
            env=version_env,
            check=True,
            capture_output=True,
        )
        cases[f"digest --version{label}"] = ([*digest, "--version"], None, version_env)
        cases[f"digest now, empty inbox{label}"] = (
            [*digest, "now", "--inbox", str(empty_inbox), "--state", at],
            None,
            version_env,
        )
        cases[f"digest now, five seeds{label}"] = (
            [*digest, "now", "--inbox", str(seed_inbox), "--state", f"{at}.seeds"],
            _fresh(Path(f"{at}.seeds"), work / "out"),
            version_env,
        )
    try:
        installed_then_compiled(cases, args.runs, py, list(versions.values()))
    finally:
        shutil.rmtree(work)


def installed_then_compiled(
    cases: dict[str, Case], runs: int, py: str, envs: list[dict[str, str]]
) -> None:
    """Time the cases as this environment runs them, then with the bytecode of each version
    of digest (one environment each) and of its dependencies compiled, removed again
    afterwards; each table says which."""
    folders: list[Path] = []
    for version_env in envs:
        folders += [f for f in _code_folders(py, version_env) if f not in folders]
    made = [f / "__pycache__" for f in _packages(folders) if not (f / "__pycache__").exists()]
    # Each version's digest package, then the site-packages its dependencies live in.
    ours = [f for f in folders if (f / "cli.py").is_file()]
    caching = (
        f"bytecode of digest {_cached([f for f in folders if f in ours])},"
        f" of its dependencies {_cached([f for f in folders if f not in ours])}"
    )
    try:
        _table(cases, runs, caching)
        subprocess.run([py, "-m", "compileall", "-q", *map(str, folders)], env=envs[0], check=False)
        _table(cases, runs, "bytecode cached (compileall)")
    finally:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)


Case = tuple[list[str], object, dict[str, str]]  # command, set-up before each run, environment

# The standard library alone doing what `digest now` with nothing new must: parse a command
# line with a subcommand, set up logging, open the state and query it, list the inbox.
FLOOR = """\
import argparse, logging, os, sqlite3, sys
from pathlib import Path
{extra}
parser = argparse.ArgumentParser(prog="floor")
sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
now = sub.add_parser("now", help="the one command")
now.add_argument("--inbox", type=Path, metavar="DIR")
now.add_argument("--state", type=Path, metavar="FILE")
args = parser.parse_args()
log = logging.getLogger("floor")
handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(logging.Formatter("floor: %(message)s"))
log.addHandler(handler)
log.setLevel(logging.INFO)
db = sqlite3.connect(args.state)
db.execute("SELECT count(*) FROM sqlite_master").fetchone()
names = sorted(os.listdir(args.inbox))
db.close()
log.info("nothing new: %d files in %s", len(names), args.inbox)
"""


def floor_cases(py: str, work: Path, args: list[str], env: dict[str, str]) -> dict[str, Case]:
    """The floor, and the floor with dataclasses, as cases running `args`."""
    cases: dict[str, Case] = {}
    for label, extra in (("floor: stdlib", ""), ("floor + dataclasses", "import dataclasses")):
        script = work / f"floor{len(cases)}.py"
        script.write_text(FLOOR.format(extra=extra), "utf-8")
        cases[label] = ([py, str(script), *args], None, env)
    return cases


def _fresh(state: Path, out: Path) -> Callable[[], None]:
    def fresh() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{state}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)

    return fresh


def _code_folders(py: str, env: dict[str, str]) -> list[Path]:
    """Where digest and the packages it imports live: its package and site-packages."""
    code = (
        "import digest, sysconfig; print(digest.__file__); print(sysconfig.get_paths()['purelib'])"
    )
    # -P: not the current folder first, which in a checkout would hide PYTHONPATH's digest.
    out = subprocess.run(
        [py, "-P", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    package, site = out.stdout.splitlines()
    return [Path(package).parent, Path(site)]


def _cached(folders: list[Path]) -> str:
    """Whether these folders' packages have their bytecode cached, in words."""
    packages = _packages(folders)
    have = sum((p / "__pycache__").is_dir() for p in packages)
    if have == len(packages):
        return "cached"
    return "not cached (compiled on every run)" if not have else f"cached in {have}/{len(packages)}"


def _packages(folders: list[Path]) -> list[Path]:
    return [
        p
        for folder in folders
        for p in [folder, *folder.rglob("*")]
        if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))
    ]


def _table(cases: dict[str, Case], runs: int, caching: str) -> None:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(runs):  # interleaved, so machine noise hits every case alike
        for name, (cmd, setup, env) in cases.items():
            results[name].append(timed(cmd, env, setup))
    print(f"{caching}:")
    print_table(results)


def print_table(results: dict[str, list[tuple[float, float]]]) -> None:
    """Each case's median and fastest wall time, median CPU time, and both medians' ratios
    to the first case's (bare Python)."""
    wall = {name: [w for w, _ in times] for name, times in results.items()}
    cpu = {name: [c for _, c in times] for name, times in results.items()}
    first = next(iter(results))
    base, base_cpu = statistics.median(wall[first]), statistics.median(cpu[first])
    print(
        f"{'case':40} {'median ms':>10} {'min ms':>8} {'cpu ms':>8} {'x bare python':>14}"
        f" {'x (cpu)':>8}"
    )
    for name in results:
        med, med_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"{name:40} {med * 1000:10.1f} {min(wall[name]) * 1000:8.1f} {med_cpu * 1000:8.1f}"
            f" {med / base:14.2f} {med_cpu / base_cpu:8.2f}"
        )


if __name__ == "__main__":
    main()
