"""How often one `digest now` of one seed dump computes each paper's identity.

Profiles the run in this process and prints, for the identity functions (exact keys, index
grams, normalisation), how many times each ran and how many times a paper. Each paper's keys
and grams are meant to be computed once. To compare with another checkout, run it with that
checkout first on PYTHONPATH.

    python benchmarks/identity_calls.py [seed dump]
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH, so another checkout can be measured

from digest.cli import main  # noqa: E402
from digest.formats import parse  # noqa: E402

COUNTED = ("keys", "grams", "normalise", "_normalise", "identify")


def main_() -> None:
    """Run once and print the calls."""
    seed = Path(sys.argv[1]) if len(sys.argv) > 1 else sorted((ROOT / "seeds").glob("*.txt"))[0]
    papers = len(parse(seed.read_bytes(), seed.name).papers)
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        inbox.mkdir()
        shutil.copy(seed, inbox / seed.name)
        argv = ["now", "--inbox", str(inbox), "--state", str(Path(tmp) / "s.sqlite3")]
        argv += ["--deliver", "files", "--out", str(Path(tmp) / "out"), "--quiet"]
        profile = cProfile.Profile()
        profile.enable()
        with contextlib.suppress(SystemExit):
            main(argv)
        profile.disable()
    print(f"{seed.name}: {papers} papers (a cached call that hits its cache is not counted)")
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, *_) in sorted(stats.items(), key=lambda s: s[0][2]):
        if name in COUNTED and f"{Path('digest')}" in file:
            where = file.split("digest/", 1)[-1]
            print(f"  {name:10} {calls:5} calls, {calls / papers:4.1f} a paper  ({where}:{line})")


if __name__ == "__main__":
    main_()
