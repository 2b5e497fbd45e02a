"""benchmarks/mutation.py: its table of modules and tests, where it says a survivor is, and the
caches a mutant's run starts without. (A whole run takes minutes; it is run by hand.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def mutation() -> ModuleType:
    path = ROOT / "benchmarks" / "mutation.py"
    spec = importlib.util.spec_from_file_location("benchmarks_mutation", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_module_of_the_table_exists_and_has_tests(mutation: ModuleType) -> None:
    for module in mutation.MODULES:
        assert (ROOT / module).is_file(), module
        tests = mutation.tests_of(module)
        assert tests, f"no test file matches {mutation.MODULES[module]} for {module}"
        assert all((ROOT / test).is_file() for test in tests)
    for module, names in mutation.NOT_PURE.items():
        functions = mutation.functions(ROOT / module)
        assert {f"x_{name}" for name in names} <= set(functions), module


def test_modules_sharing_their_tests_are_one_run(mutation: ModuleType) -> None:
    modules = ["digest/identity/rule.py", "digest/render/tldr.py", "digest/identity/keys.py"]
    runs = mutation.groups(modules)
    members = sorted(sorted(run) for run, _ in runs)
    assert members == [
        ["digest/identity/keys.py", "digest/identity/rule.py"],
        ["digest/render/tldr.py"],
    ]


SOURCE = '''"""A module."""


def f(x: int) -> int:
    """Doc."""
    y = x + 1
    z = y * 2
    w = z - 3
    v = w + 4
    u = v * 5
    return u
'''


@pytest.mark.parametrize(
    ("diff", "line", "edits"),
    [
        (  # the change within the first lines: the hunk starts at the `def`
            "--- m.py\n+++ m.py\n@@ -1,6 +1,6 @@\n def f(x: int) -> int:\n"
            '     """Doc."""\n-    y = x + 1\n+    y = x - 1\n     z = y * 2\n     w = z - 3\n',
            6,
            ["-    y = x + 1", "+    y = x - 1"],
        ),
        (  # further down: the hunk starts within the body
            "--- m.py\n+++ m.py\n@@ -4,5 +4,5 @@\n     z = y * 2\n     w = z - 3\n"
            "-    v = w + 4\n+    v = w + 5\n     u = v * 5\n     return u\n",
            9,
            ["-    v = w + 4", "+    v = w + 5"],
        ),
    ],
)
def test_a_survivor_is_placed_on_its_line_of_the_file(
    mutation: ModuleType, tmp_path: Path, diff: str, line: int, edits: list[str]
) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE, encoding="utf-8")
    span = mutation.functions(path)["x_f"]
    assert span == (4, 11)
    assert mutation.located(diff, span, SOURCE.splitlines()) == (line, edits)


def test_a_mutants_run_starts_with_the_package_caches_empty(mutation: ModuleType) -> None:
    from digest.identity.keys import normalise
    from digest.render.tldr import tldr

    tldr("We propose a method. It works.")
    normalise("A Title")
    assert tldr.cache_info().currsize and normalise.cache_info().currsize
    mutation.pytest_sessionstart(None)
    assert tldr.cache_info().currsize == 0
    assert normalise.cache_info().currsize == 0


def test_each_equivalent_mutant_names_a_function_of_the_table_and_says_why(
    mutation: ModuleType,
) -> None:
    for (module, function, line), why in mutation.EQUIVALENT.items():
        assert module in mutation.MODULES, module
        key = f"xǁ{function.replace('.', 'ǁ')}" if "." in function else f"x_{function}"
        assert key in mutation.functions(ROOT / module), (module, function)
        assert line and line == line.strip() and why, (module, function)
    listed = ("digest/render/tldr.py", "sentences", "at = None")
    assert listed in mutation.EQUIVALENT
    assert mutation.equivalent(listed[0], listed[1], ["-    at = 0", "+    at = None"])
    assert not mutation.equivalent(listed[0], listed[1], ["-    at = 0", "+    at = 1"])
    assert not mutation.equivalent(listed[0], "clip", ["-    at = 0", "+    at = None"])
