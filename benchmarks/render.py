"""What rendering costs in one `digest now` of the five seeds with mail settings: the run's time
(in the process, and of the whole process), template renders and CSS-inline passes, each run
in a process of its own.

    python benchmarks/render.py [--code DIR --code OTHER_DIR] [--runs 5]

`--code` names checkouts of digest to measure (this one by default), run in turn so that one
run measures a baseline beside the current code. Cases: a dry run (a preview of the
mail), files delivery (every format and the .eml), stdout as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

# Runs in the child: count template renders by template name and CSS-inline passes, time the
# run. Counting wraps library entry points (jinja2, css_inline), never digest's own code.
CHILD = """
import collections, io, json, sys, time
import css_inline, jinja2
counts = collections.Counter()
render = jinja2.Template.render
def counted(self, *args, **kwargs):
    counts[self.name or "string"] += 1
    return render(self, *args, **kwargs)
jinja2.Template.render = counted
Real = css_inline.CSSInliner
class Inliner:
    def __init__(self, *args, **kwargs):
        self.real = Real(*args, **kwargs)
    def inline(self, html):
        counts["css-inline"] += 1
        return self.real.inline(html)
    def inline_fragment(self, html, css):
        counts["css-inline"] += 1
        return self.real.inline_fragment(html, css)
css_inline.CSSInliner = Inliner
from digest.cli import main
out = sys.stdout
sys.stdout = io.StringIO()
start = time.process_time()  # CPU time: the machine's other work does not count
code = main(sys.argv[1:])
took = time.process_time() - start
sys.stdout = out
print(json.dumps({"code": code, "seconds": took, "counts": counts}))
"""

MAIL = {
    "DIGEST_SMTP_HOST": "mail.example.org",
    "DIGEST_FROM": "Digest <digest@example.org>",
    "DIGEST_TO": "ann@example.org",
}
CASES = {
    "dry run, mail": ["--deliver", "smtp", "--dry-run", "--format", "html"],
    "files": ["--deliver", "files"],
    "stdout markdown": ["--deliver", "stdout", "--format", "markdown"],
}


def run(code: Path, args: list[str]) -> dict[str, object]:
    """One `digest now` of the seeds on a fresh state file, in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")},
            **MAIL,
            "PYTHONPATH": str(code),
            "DIGEST_STATE": f"{tmp}/state.sqlite3",
            "DIGEST_OUT": f"{tmp}/out",
        }
        argv = ["now", "--inbox", str(SEEDS), *args]
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True, cwd=tmp
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
        result["process"] = time.perf_counter() - start
        return result


def main() -> None:
    """Print each case's best time (of --runs) and its render counts, for each checkout."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    codes = args.code or [ROOT]
    for name, case in CASES.items():
        results: dict[Path, list[dict[str, object]]] = {code: [] for code in codes}
        for _ in range(args.runs):  # interleaved, so machine noise hits every checkout alike
            for code in codes:
                results[code].append(run(code, case))
        for code, runs in results.items():
            seconds = min(float(str(r["seconds"])) for r in runs)
            process = min(float(str(r["process"])) for r in runs)
            counts = runs[0]["counts"]
            assert isinstance(counts, dict)
            html = sum(n for t, n in counts.items() if t.endswith("html.j2"))
            print(
                f"{name:16} {code.name:12} run {seconds:5.3f} s CPU, process {process:5.3f} s;"
                f" html renders {html:3}, css-inline {counts.get('css-inline', 0):3};"
                f" {json.dumps(counts, sort_keys=True)}"
            )


if __name__ == "__main__":
    main()
