"""A child process the benchmarks measure is measured for itself alone."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.processes import clean_env

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import child  # noqa: E402
import identity  # noqa: E402


def test_a_child_peak_memory_is_its_own_not_the_parents() -> None:
    # Linux counts in a child's ru_maxrss (RUSAGE_SELF in it, or wait4 in the parent) the
    # memory of the process it was forked from: 200 MB held here would be the child's too.
    held = b"\1" * (200 * 2**20)
    cost = child.run(["-c", "import sys; print(sys.argv[1:])", "one"], clean_env())
    assert (cost.code, cost.stdout) == (0, "['one']\n")
    assert 0 < cost.peak_mb < 100 and cost.cpu > 0
    # The identity benchmark's `digest now` peak column, the same way.
    _, peak, _, _ = identity.measure_child(["-c", "x = b'1' * (150 * 2**20)"], clean_env())
    assert 150 < peak < 150 + cost.peak_mb + 20
    assert len(held) == 200 * 2**20
