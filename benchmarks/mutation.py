"""The mutation score of the pure core: mutmut plants one bug at a time in each module and runs
the tests that target that module (the table MODULES below); a bug the tests still pass is a
survivor, a line no test pins down.

    python benchmarks/mutation.py [--module digest/render/tldr.py] [--jobs N]

Prints each survivor (file:line, the function, the mutation as a diff, and its mutmut name),
then the score of each module: killed / total. Runs under `nice -n 19`, with Hypothesis's
`mutation` profile (few examples, the same ones every run, so two runs compare).

How it uses mutmut (3.x): the package is copied into a `mutants/` folder, each function
dispatching at call time to the mutant under test, and each mutant's tests run in a fork of a
process that has imported that copy and collected the tests. Of the tests that target a
module, a mutant runs those that call its function, in that process: a test that runs
`python -m digest` runs the original code, and kills nothing. mutmut changes the bodies of
functions and methods, not module-level constants nor decorated functions.

Each group of modules that share their tests is one mutmut run, in its own folder under
benchmarks/out/mutation/ (links to the project, a pyproject.toml with the run's
[tool.mutmut] settings), left there for `mutmut browse` or `mutmut show NAME` run inside it.
This module is also the pytest plugin of those runs (`mutation_plugin`, linked there).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "mutation"

# Which tests target each module: globs under the project. Modules with the same tests are
# mutated in one mutmut run. A new test file for a module belongs here (or matches a glob).
MODULES: dict[str, tuple[str, ...]] = {
    "digest/identity/rule.py": ("tests/identity/test_*.py",),
    "digest/identity/keys.py": ("tests/identity/test_*.py",),
    "digest/identity/decide.py": ("tests/identity/test_*.py",),
    "digest/identity/index.py": ("tests/identity/test_*.py",),
    "digest/relevance/__init__.py": ("tests/relevance/test_*.py", "tests/test_interests.py"),
    "digest/relevance/lexical.py": ("tests/relevance/test_*.py", "tests/test_interests.py"),
    "digest/relevance/words.py": ("tests/relevance/test_*.py", "tests/test_interests.py"),
    "digest/render/tldr.py": ("tests/render/test_tldr*.py", "tests/render/test_views.py"),
    "digest/readers.py": ("tests/test_readers*.py",),
    "digest/addresses.py": ("tests/test_readers*.py",),
    "digest/reader_settings.py": ("tests/test_reader_settings.py", "tests/test_readers*.py"),
    "digest/envelope.py": ("tests/test_envelope*.py", "tests/test_letters.py"),
    "digest/state/packing.py": ("tests/state/test_packing.py",),
    "digest/retries.py": ("tests/test_retries.py", "tests/test_pipeline_outbox.py"),
    "digest/formats/common.py": ("tests/formats/test_*.py",),
    "digest/formats/text.py": ("tests/formats/test_*.py",),
    "digest/formats/json.py": ("tests/formats/test_*.py",),
    "digest/formats/html.py": ("tests/formats/test_*.py",),
}

# Functions of these modules that work through the state store: the shell's part, not counted.
NOT_PURE: dict[str, frozenset[str]] = {
    "digest/identity/index.py": frozenset({"search", "forget"}),
}

# Mutants that cannot change what the code does, by module, function and the line as the
# mutant has it, each with why: listed apart, counted neither caught nor missed. Matched on
# the mutated line's text, so a change to the code that makes one of them a real bug makes
# it count again.
EQUIVALENT: dict[tuple[str, str, str], str] = {
    (
        "digest/render/tldr.py",
        "_verbs",
        'def _verbs(words: str, forms: str = "XXactiveXX") -> str:',
    ): ('only forms == "past" is told apart: any other default means "active"'),
    (
        "digest/render/tldr.py",
        "_verbs",
        'def _verbs(words: str, forms: str = "ACTIVE") -> str:',
    ): ('only forms == "past" is told apart: any other default means "active"'),
    (
        "digest/render/tldr.py",
        "sentences",
        "at = None",
    ): ("text[None:i] is text[0:i]"),
    (
        "digest/render/tldr.py",
        "sentences",
        "piece = text[at : m.start()].lstrip()",
    ): (
        "a piece neither starts nor ends with a space: the text is single-spaced, a piece starts"
        " after the spaces a match took and ends where the next match starts"
    ),
    (
        "digest/render/tldr.py",
        "contribution",
        "if i == 0 and len(found) >= 1 and cue is _CUES[-1]:",
    ): ("with one sentence, skipping it leads to found[0] all the same"),
    (
        "digest/envelope.py",
        "token",
        'digest = hmac.new(secret, f"reader:{key}".encode(), "SHA256").hexdigest()',
    ): ("hash names are case-insensitive"),
    (
        "digest/envelope.py",
        "verify",
        'return hmac.compare_digest(token(secret, key).encode(), given.encode("UTF-8", "replace"))',
    ): ("codec names are case-insensitive"),
    (
        "digest/envelope.py",
        "to_header",
        'return str(header.fold(policy=MAIL_POLICY)).encode("ASCII")',
    ): ("codec names are case-insensitive"),
    (
        "digest/relevance/lexical.py",
        "Idf.vector",
        "norm = math.sqrt(sum(w * w for w in weights.values())) or 2.0",
    ): ("a norm of 0 means every weight is 0, and 0 divided by 1 or 2 is 0"),
    (
        "digest/relevance/lexical.py",
        "centroid",
        "norm = math.sqrt(sum(w * w for w in total.values())) or 2.0",
    ): ("a norm of 0 means every weight is 0, and 0 divided by 1 or 2 is 0"),
    (
        "digest/relevance/lexical.py",
        "cosine",
        "if len(a) >= len(b):",
    ): ("which vector is walked is for speed: the dot product is the same"),
    (
        "digest/identity/keys.py",
        "normalise_all",
        'if (t.isascii() and "&" not in t and "\\\\" not in t) and False',
    ): ("the fast path for plain ASCII folds as _normalise does: without it, the same result"),
    (
        "digest/identity/index.py",
        "_powers",
        "if len(_POWERS[0]) <= n:",
    ): ("growing when already long enough: other memory, the same powers"),
    (
        "digest/identity/index.py",
        "_powers",
        "size = max(n, 4096)",
    ): ("at least n powers whatever the size: other memory, the same values"),
    (
        "digest/identity/index.py",
        "_powers",
        "size = max(n, 2 * len(_POWERS[0]), )",
    ): ("at least n powers whatever the size: other memory, the same values"),
    (
        "digest/identity/index.py",
        "_powers",
        "size = max(n, 2 / len(_POWERS[0]), 4096)",
    ): ("at least n powers whatever the size: other memory, the same values"),
    (
        "digest/identity/index.py",
        "_powers",
        "size = max(n, 3 * len(_POWERS[0]), 4096)",
    ): ("at least n powers whatever the size: other memory, the same values"),
    (
        "digest/identity/index.py",
        "_powers",
        "size = max(n, 2 * len(_POWERS[0]), 4097)",
    ): ("at least n powers whatever the size: other memory, the same values"),
    (
        "digest/identity/index.py",
        "_powers",
        "_POWERS[k] = np.cumprod(factors, dtype=None)  # wraps modulo 2**64",
    ): ("the factors are uint64: their product is too"),
    (
        "digest/identity/index.py",
        "_powers",
        "_POWERS[k] = np.cumprod(factors, )  # wraps modulo 2**64",
    ): ("the factors are uint64: their product is too"),
    (
        "digest/identity/index.py",
        "word_hashes",
        "power, inverse = _powers(n + 2)",
    ): ("one power more than needed: the same values"),
    (
        "digest/identity/index.py",
        "_rank",
        "rough: list[tuple[str, float, int]] = [(t, 1, k) for k, t in titles.items()]",
    ): ("the rough score is never read, only the title and key"),
    (
        "digest/identity/keys.py",
        "_greek",
        "for code in range(0x0391, 1024):",
    ): ("U+03FF is a symbol, not a letter: the table is the same"),
    (
        "digest/identity/keys.py",
        "_greek",
        'name = unicodedata.name(chr(code), "XXXX")',
    ): ("an unnamed code point is no letter either way"),
    (
        "digest/identity/keys.py",
        "_greek",
        'word = name.split(None, 1)[1].split(" WITH ")[0].split()[-1].lower()',
    ): ("the name's last word before WITH is the same after any first split"),
    (
        "digest/identity/keys.py",
        "_greek",
        'word = name.split(" LETTER ", )[1].split(" WITH ")[0].split()[-1].lower()',
    ): ("a letter's name holds LETTER once"),
    (
        "digest/identity/keys.py",
        "_greek",
        'word = name.rsplit(" LETTER ", 1)[1].split(" WITH ")[0].split()[-1].lower()',
    ): ("a letter's name holds LETTER once"),
    (
        "digest/identity/keys.py",
        "_greek",
        'word = name.split(" LETTER ", 2)[1].split(" WITH ")[0].split()[-1].lower()',
    ): ("a letter's name holds LETTER once"),
    (
        "digest/identity/index.py",
        "_powers",
        "factors = np.full(size, base, dtype=None)",
    ): (
        "numpy picks int64 or uint64 for the base, and the product is taken as uint64: the same"
        " bits"
    ),
    (
        "digest/identity/index.py",
        "_powers",
        "factors = np.full(size, base, )",
    ): (
        "numpy picks int64 or uint64 for the base, and the product is taken as uint64: the same"
        " bits"
    ),
    (
        "digest/identity/index.py",
        "candidates",
        "for gram, ids in store.postings({g for gs in grams for g in gs}, COMMON + 2).items()",
    ): ("an entry of more than COMMON papers is dropped whether one or two more are read"),
    (
        "digest/identity/index.py",
        "_rank",
        "folded = dict(zip(titles, normalise_all(titles.values()), strict=None))",
    ): ("normalise_all gives one text a title: the lengths always agree"),
    (
        "digest/identity/index.py",
        "_rank",
        "folded = dict(zip(titles, normalise_all(titles.values()), ))",
    ): ("normalise_all gives one text a title: the lengths always agree"),
    (
        "digest/identity/index.py",
        "_rank",
        "folded = dict(zip(titles, normalise_all(titles.values()), strict=False))",
    ): ("normalise_all gives one text a title: the lengths always agree"),
    (
        "digest/addresses.py",
        "address_key",
        'ascii_domain = domain.rstrip(".").encode("IDNA").decode("ascii")',
    ): ("codec names are case-insensitive"),
    (
        "digest/addresses.py",
        "address_key",
        'ascii_domain = domain.rstrip(".").encode("idna").decode("ASCII")',
    ): ("codec names are case-insensitive"),
    (
        "digest/readers.py",
        "load",
        'text = path.read_bytes().decode("UTF-8-SIG")',
    ): ("codec names are case-insensitive"),
    (
        "digest/relevance/__init__.py",
        "_phrases",
        'return [list(words(part)) for part in re.split(r"XX[,;\\n]+XX", interests)'
        " if part.strip()]",
    ): (
        "a word never spans a comma, a semicolon or a line end: the phrases' words, in"
        " order, are the same however the interests are split"
    ),
}

# A mutant's tests: PostgreSQL's runs of a state test left out (a throwaway server per
# mutant), SQLite's kept; the plugin below.
PYTEST_ARGS = ["-p", "no:cacheprovider", "-p", "mutation_plugin", "-k", "not postgresql"]

# mutmut's verdicts that count as caught: a test failed, or the mutant made them loop.
KILLED = {"killed", "timeout", "caught by type check"}


# -- the pytest plugin of mutmut's test runs ----------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before pytest's own reads the setting
def pytest_configure(config: pytest.Config) -> None:
    """Each test run its own temporary folder, removed after it: two runs at once in
    pytest's shared one clean up each other's files, and fail on it."""
    if config.option.basetemp is None:
        folder = tempfile.mkdtemp(prefix="run-")
        config.option.basetemp = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def pytest_sessionstart(session: object) -> None:
    """Ready a test run for the mutant under test."""
    # Empty every cache of the package: what collecting the tests may have cached from the
    # original code (a TL;DR, a normalised title) would hide the planted bug.
    for name, module in list(sys.modules.items()):
        if name == "digest" or name.startswith("digest."):
            for value in list(vars(module).values()):
                clear = getattr(value, "cache_clear", None)
                if callable(clear):
                    clear()
    # While mutmut records which tests call which function, a process a test starts (the
    # ingest's workers) runs the original code: told by this variable, mutmut would look
    # for its settings in that process's folder, and fail the test. (mutmut keeps the value
    # for this process.)
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        del os.environ["MUTANT_UNDER_TEST"]


_durations: dict[str, float] = {}


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """A mutant's tests, quickest first (as timed by mutmut on the original code): most
    mutants are killed by a quick one, and the run stops at the first failure."""
    if not _durations and Path("mutmut-stats.json").exists():
        _durations.update(json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"])
    items.sort(key=lambda item: _durations.get(item.nodeid, 0.0))


# -- the runs and their results -----------------------------------------------------------------


@dataclass
class Survivor:
    """A mutant the tests did not kill: where it is and what it changed."""

    name: str
    status: str
    path: str
    line: int
    function: str
    diff: list[str]


@dataclass
class Score:
    """One module's result."""

    module: str
    killed: int = 0
    total: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    equivalent: int = 0  # survivors that change nothing (EQUIVALENT), not counted
    seconds: float = 0.0
    error: str = ""
    left_out: list[str] = field(default_factory=list)


def tests_of(module: str) -> list[str]:
    """The test files that target `module`, relative to the project."""
    found = {
        str(Path(path).relative_to(ROOT))
        for pattern in MODULES[module]
        for path in glob.glob(str(ROOT / pattern))
    }
    return sorted(found)


def groups(modules: list[str]) -> list[tuple[list[str], list[str]]]:
    """Modules that share their tests, with those tests: one mutmut run each."""
    by_tests: dict[tuple[str, ...], list[str]] = {}
    for module in modules:
        by_tests.setdefault(tuple(tests_of(module)), []).append(module)
    return [(members, list(tests)) for tests, members in by_tests.items()]


def project() -> list[str]:
    """The project's top-level files and folders a test may read, as git knows them; not
    benchmarks/ (the run's own folder is inside) nor pyproject.toml (written per run)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        listed = [p.name for p in ROOT.iterdir() if not p.name.startswith(".")]
    names = {name.split("/")[0] for name in listed}
    return sorted(names - {"benchmarks", "pyproject.toml"} - {n for n in names if n[0] == "."})


def workdir(members: list[str]) -> Path:
    """A fresh folder for one mutmut run: links to the project and the plugin above."""
    name = os.path.commonpath(members).removesuffix(".py").replace("/", ".")
    work = OUT / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for linked in project():
        (work / linked).symlink_to(ROOT / linked)
    (work / "mutation_plugin.py").symlink_to(Path(__file__).resolve())
    return work


def settings(members: list[str], tests: list[str], left_out: list[str]) -> str:
    """The project's pyproject.toml (pytest's settings) with this run's [tool.mutmut]."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if re.search(r"^\[tool\.mutmut\]", text, re.M):
        sys.exit("pyproject.toml has a [tool.mutmut] table; benchmarks/mutation.py writes its own")
    mutmut = {
        "source_paths": ["digest"],
        "only_mutate": members,
        # mutmut copies the package and the tests itself; the rest the tests may read.
        "also_copy": [*sorted(set(project()) - {"digest", "tests"}), "mutation_plugin.py"],
        "pytest_add_cli_args": PYTEST_ARGS + [f"--deselect={test}" for test in left_out],
        "pytest_add_cli_args_test_selection": tests,
        "use_git_change_detection": False,
        # Each mutant's run forks from a process that has only imported and collected the
        # tests, never run them: no state a run of the original code left (a cache, a table
        # grown on demand) hides the planted bug.
        "process_isolation": "forkserver",
        # A mutant that makes its tests loop is stopped at five times their usual time.
        "timeout_multiplier": 5.0,
        # The test runs' output in mutmut.log, to name a test that fails on the copy.
        "debug": True,
    }
    # A JSON list of strings, a string, a boolean or a number is also TOML.
    lines = [f"{key} = {json.dumps(value)}" for key, value in mutmut.items()]
    return text.rstrip("\n") + "\n\n[tool.mutmut]\n" + "\n".join(lines) + "\n"


def run_mutmut(work: Path, jobs: int, names: list[str] | None = None) -> tuple[int, float]:
    """Run `mutmut run` in `work` (on the named mutants only, when given), its output in
    mutmut.log; its exit code and duration."""
    # Not the `mutmut` script: a process a test starts with multiprocessing's "spawn" runs
    # the main script again, and mutmut's, in that test's folder, fails to find its settings.
    main = "from mutmut.__main__ import cli; cli()"
    command = [sys.executable, "-c", main, "run", "--max-children", str(jobs), *(names or [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["HYPOTHESIS_PROFILE"] = "mutation"
    # Every test's temporary files inside this run's folder, removed with it.
    env["TMPDIR"] = str(work / "tmp")
    (work / "tmp").mkdir(exist_ok=True)
    started = time.monotonic()
    with open(work / "mutmut.log", "ab") as log:
        code = subprocess.call(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    shutil.rmtree(work / "tmp", ignore_errors=True)
    return code, time.monotonic() - started


def results(work: Path, module: str) -> dict[str, int | None]:
    """mutmut's exit code for each mutant of `module`: what its tests' run ended with."""
    meta = json.loads((work / "mutants" / f"{module}.meta").read_text())
    codes: dict[str, int | None] = meta["exit_code_by_key"]
    return codes


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """mutmut's reading functions work relative to the current folder."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def functions(path: Path) -> dict[str, tuple[int, int]]:
    """The lines of each function (its decorators first) by mutmut's key: x_name, or
    xǁClassǁname."""
    spans: dict[str, tuple[int, int]] = {}

    def visit(body: list[ast.stmt], cls: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                key = f"xǁ{cls}ǁ{node.name}" if cls else f"x_{node.name}"
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                spans[key] = (first, node.end_lineno or node.lineno)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{cls}.{node.name}" if cls else node.name)

    visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return spans


def located(diff: str, span: tuple[int, int], source: list[str]) -> tuple[int, list[str]]:
    """The file line a mutant changes, and its diff's changed lines. The diff is of the
    function alone, from its first decorator or `def`; the line is checked against the file."""
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++"))]
    edits = [line for line in body if line.startswith(("-", "+"))]
    at, first = 0, 0
    for line in body:
        if line.startswith("@@"):
            at = int(line.split()[1].lstrip("-").split(",")[0])
        elif line.startswith("-"):
            first = at
            break
        elif not line.startswith("+"):
            at += 1
    start, end = span
    guess = min(max(start + first - 1, start), end)
    removed = next((e[1:].strip() for e in edits if e.startswith("-")), None)
    if removed is not None and source[guess - 1].strip() != removed:
        same = [n for n in range(start, end + 1) if source[n - 1].strip() == removed]
        guess = min(same, key=lambda n: abs(n - guess), default=guess)
    return guess, edits


def read(work: Path, members: list[str], seconds: float, reached: bool) -> list[Score]:
    """Each module's score and survivors, from the mutmut run in `work`; when no test
    `reached` the modules, mutmut stopped before testing and every mutant survives."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    scores = []
    for module in members:
        # The run's time is the group's: shown once, on its first module.
        score = Score(module, seconds=seconds if module == members[0] else 0.0)
        codes = results(work, module)
        where = functions(ROOT / module)
        source = (ROOT / module).read_text(encoding="utf-8").splitlines()
        for name, code in codes.items():
            key = name.rpartition(".")[2].partition("__mutmut_")[0]
            function = key.split("ǁ", 1)[1].replace("ǁ", ".") if "ǁ" in key else key[2:]
            if function.rpartition(".")[2] in NOT_PURE.get(module, ()):
                continue
            status = status_by_exit_code[code] if reached else "no tests"
            if code == BROKEN:
                status = "error"
            score.total += 1
            if status in KILLED:
                score.killed += 1
                continue
            with inside(work):
                diff = get_diff_for_mutant(name, path=module)
            line, edits = located(diff, where[key], source)
            if equivalent(module, function, edits):
                score.total -= 1
                score.equivalent += 1
                continue
            score.survivors.append(Survivor(name, status, module, line, function, edits))
        scores.append(score)
    return scores


def equivalent(module: str, function: str, edits: list[str]) -> bool:
    """Whether a survivor is one of EQUIVALENT: its mutated line as listed there."""
    added = [edit[1:].strip() for edit in edits if edit.startswith("+")]
    return any((module, function, line) in EQUIVALENT for line in added)


def report(scores: list[Score]) -> str:
    """The survivors of each module, then the table of scores."""
    out = []
    for score in scores:
        for m in sorted(score.survivors, key=lambda m: (m.line, int(m.name.rpartition("_")[2]))):
            note = "" if m.status == "survived" else f" [{m.status}]"
            out.append(f"{m.path}:{m.line} in {m.function}(){note}  ({m.name})")
            out.extend(f"    {edit}" for edit in m.diff)
        if score.survivors:
            out.append("")
    width = max(len(s.module) for s in scores)
    out.append(f"{'module':<{width}}  killed / total      %  survivors  equivalent  time")
    killed = total = 0
    for s in scores:
        if s.error:
            out.append(f"{s.module:<{width}}  {s.error}")
            continue
        killed, total = killed + s.killed, total + s.total
        percent = 100 * s.killed / s.total if s.total else 0.0
        took = f"{s.seconds:4.0f} s" if s.seconds else '   "'
        out.append(
            f"{s.module:<{width}}  {s.killed:>6} / {s.total:<5} {percent:5.1f}%"
            f"  {len(s.survivors):>9}  {s.equivalent:>10}  {took}"
        )
    if total:
        out.append(f"{'all':<{width}}  {killed:>6} / {total:<5} {100 * killed / total:5.1f}%")
    left_out = sorted({test for s in scores for test in s.left_out})
    if left_out:
        out.append("\nLeft out, as they fail on mutmut's copy of the original code:")
        out.extend(f"    {test}" for test in left_out)
    return "\n".join(out)


# mutmut's exit code for a mutant whose run ended in an error of mutmut's own rather than
# in its tests' verdict (now and then, in a fork; it counts it as a timeout): run it again,
# and if it breaks again count it as not killed.
BROKEN = 255
# How mutmut says why it stopped before testing mutants.
NOT_REACHED = "could not find any test case for any mutant"
TESTS_FAILED = re.compile(r"failed to collect stats|Failed to run clean test", re.I)


def mutate(members: list[str], tests: list[str], jobs: int) -> list[Score]:
    """One mutmut run over modules that share their tests. A test that fails on mutmut's
    copy of the original code (it runs the code in another process that cannot find
    mutmut's settings, say) is left out, named, and the run starts again."""
    left_out: list[str] = []
    seconds = 0.0
    while True:
        work = workdir(members)
        (work / "pyproject.toml").write_text(settings(members, tests, left_out), encoding="utf-8")
        code, took = run_mutmut(work, jobs)
        seconds += took
        log = (work / "mutmut.log").read_text(errors="replace")
        if code == 0:
            again = [n for m in members for n, c in results(work, m).items() if c == BROKEN]
            if again:
                print(f"  {len(again)} mutants again: their run broke", file=sys.stderr)
                seconds += run_mutmut(work, jobs, again)[1]
        if code == 0 or NOT_REACHED in log:
            print(f"  done in {seconds:.0f} s", file=sys.stderr, flush=True)
            scores = read(work, members, seconds, reached=code == 0)
            for score in scores:
                score.left_out = left_out
            return scores
        failing = re.findall(r"^(?:FAILED|ERROR) (\S+)", log, re.M)
        if not TESTS_FAILED.search(log):
            failing = []
        if not failing or len(left_out) > 10:
            print("\n".join(log.splitlines()[-15:]), file=sys.stderr)
            why = f"mutmut failed (exit {code}); see {work / 'mutmut.log'}"
            return [Score(m, error=why) for m in members]
        print(f"  left out (fails on mutmut's copy): {' '.join(failing)}", file=sys.stderr)
        left_out += failing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--module",
        action="append",
        metavar="PATH",
        help="only this module (repeatable), as in the table: digest/render/tldr.py",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    args = parser.parse_args()
    modules = [str(Path(m)) for m in args.module or MODULES]
    if unknown := [m for m in modules if m not in MODULES]:
        parser.error(f"{', '.join(unknown)} is not in the table; one of: {', '.join(MODULES)}")
    os.nice(19 - os.nice(0))  # other work on the machine comes first
    started = time.monotonic()
    scores: list[Score] = []
    for members, tests in groups(modules):
        print(f"{', '.join(members)}: {len(tests)} test files", file=sys.stderr, flush=True)
        if not tests:
            scores += [Score(m, error=f"no test file matches {MODULES[m]}") for m in members]
            continue
        scores += mutate(members, tests, args.jobs)
    scores.sort(key=lambda s: list(MODULES).index(s.module))
    print(report(scores))
    print(f"\n{time.monotonic() - started:.0f} s in all", file=sys.stderr)
    return 1 if any(s.error for s in scores) else 0


if __name__ == "__main__":
    sys.exit(main())
