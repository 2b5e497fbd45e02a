"""How well the TL;DR chosen from an abstract agrees with the listing's AI summary, on real days.

The Daily Papers API ships an `ai_summary` for recent papers: a one-sentence summary written
for that paper, the reference here. For every paper of the real days that has one, the chooser
picks a sentence of the abstract as it does when a listing has no summary, and the pick is
compared with the summary by ROUGE-L F1 over lower-cased word tokens (the longest common
subsequence of words, as a share of both lengths): 1 is the summary word for word.

Printed, in one run: the chooser of this tree; a baseline chooser, digest/render/tldr.py as a
git revision has it (`--baseline`, the chooser before it scored sentences), loaded from git
and run on the same abstracts; the first sentence of the abstract; and the best sentence
of each abstract (an upper bound for any chooser that picks one sentence whole). Then each
paper where the two choosers differ, with both picks, for a person to judge.

    python benchmarks/tldr.py [--days tests/fixtures/real] [--baseline 12f5d80] [--quiet]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.formats import parse  # noqa: E402
from digest.models import Paper  # noqa: E402
from digest.render.tex import unicode  # noqa: E402
from digest.render.tldr import sentences, tldr  # noqa: E402

BASELINE = "12f5d80"  # the chooser that took the first sentence with the strongest cue


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of a text, its TeX as Unicode."""
    return re.findall(r"\w+", unicode(text).lower())


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of two texts: their longest common subsequence of words, as a share of
    each, combined by the harmonic mean."""
    a, b = tokens(candidate), tokens(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b, 1):
            row.append(previous[j - 1] + 1 if x == y else max(previous[j], row[j - 1]))
        previous = row
    common = previous[-1]
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def papers(days: Path) -> list[Paper]:
    """The papers of the real days that carry an AI summary, each once."""
    found: dict[str, Paper] = {}
    for path in sorted(days.glob("*.json")):
        for paper in parse(path.read_bytes(), path.name).papers:
            if paper.ai_summary and paper.abstract:
                found.setdefault(paper.arxiv_id or paper.title, paper)
    return list(found.values())


def baseline(revision: str) -> Callable[[str], str]:
    """The chooser of digest/render/tldr.py at a git revision, loaded as a module of its own
    (the file imports nothing of digest)."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:digest/render/tldr.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType(f"tldr_{revision}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:digest/render/tldr.py", "exec"), module.__dict__)
    chosen: Callable[[str, str | None], object] = module.tldr
    return lambda abstract: str(chosen(abstract, None).text)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=Path, default=ROOT / "tests" / "fixtures" / "real")
    parser.add_argument("--baseline", default=BASELINE, help="a git revision of the chooser")
    parser.add_argument("--quiet", action="store_true", help="the figures only")
    args = parser.parse_args()
    found = papers(args.days)
    if not found:
        sys.exit(f"{args.days}: no paper with an AI summary")
    old = baseline(args.baseline)
    titles = {p.abstract: p.title for p in found}
    choosers: dict[str, Callable[[str], str]] = {
        "this tree": lambda abstract: tldr(abstract, None, titles[abstract]).text,
        f"baseline {args.baseline}": old,
        "first sentence": lambda abstract: (sentences(abstract) or [""])[0],
    }
    scores = {
        name: [rouge_l(choose(p.abstract), p.ai_summary or "") for p in found]
        for name, choose in choosers.items()
    }
    best = [max(rouge_l(s, p.ai_summary or "") for s in sentences(p.abstract)) for p in found]
    print(f"{len(found)} papers with an AI summary in {args.days}")
    print("agreement with the AI summary: mean ROUGE-L F1 over word tokens")
    for name, values in [*scores.items(), ("best sentence (bound)", best)]:
        print(f"  {name:<24} {sum(values) / len(values):.3f}")
    ours, theirs = scores["this tree"], scores[f"baseline {args.baseline}"]
    better = sum(a > b + 1e-9 for a, b in zip(ours, theirs, strict=True))
    worse = sum(a + 1e-9 < b for a, b in zip(ours, theirs, strict=True))
    print(f"  this tree better on {better} papers, worse on {worse}")
    if args.quiet:
        return
    for paper, a, b in zip(found, ours, theirs, strict=True):
        new, was = tldr(paper.abstract, None, paper.title).text, old(paper.abstract)
        if new != was:
            print(f"\n{paper.arxiv_id} {a:.2f} (was {b:.2f})\n  AI:  {paper.ai_summary}")
            print(f"  new: {new}\n  old: {was}")


if __name__ == "__main__":
    main()
