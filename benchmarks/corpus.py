"""A synthetic corpus of Daily Papers dumps that looks like the seeds, from a fixed seed.

    python benchmarks/corpus.py --papers 100000 --out benchmarks/out/corpus

Titles and abstracts draw their words from the seeds' own vocabulary (Zipf-distributed,
like real text, so common words are common and most three-word shingles are rare), plus
coined method names ("Graveltron: ...") as real titles have. `probe()` then builds a
100-paper dump to decide against a stored prefix of the corpus, mixing re-posts (re-typed,
re-titled, revised, without abstract) with new papers and near-miss distinct ones, and
says which are which.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.formats import parse  # noqa: E402

PER_FILE = 1000
SEED = 20240601
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ne",
    "tu",
    "vi",
    "so",
    "pe",
    "da",
    "xi",
    "qua",
    "zor",
    "bel",
    "gran",
    "tri",
    "mor",
    "fen",
    "lux",
    "tal",
]


@dataclass(frozen=True)
class Vocabulary:
    """Words to draw from, most frequent first, with Zipf weights."""

    title: list[str]
    abstract: list[str]


def vocabulary() -> Vocabulary:
    """The seeds' words, ranked by frequency, padded with coined words to a realistic size."""
    titles: dict[str, int] = {}
    abstracts: dict[str, int] = {}
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for paper in parse(path.read_bytes(), path.name).papers:
            for word in paper.title.split():
                titles[word] = titles.get(word, 0) + 1
            for word in re.findall(r"[A-Za-z][A-Za-z0-9-]*", paper.abstract):
                abstracts[word.lower()] = abstracts.get(word.lower(), 0) + 1
    rng = np.random.default_rng(SEED)
    coined = {"".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5)))) for _ in range(60_000)}
    title_words = sorted(titles, key=lambda w: -titles[w])
    abstract_words = sorted(abstracts, key=lambda w: -abstracts[w])
    extra = sorted(coined - set(abstract_words))
    coined_titles = [w.capitalize() for w in extra[:20_000]]
    return Vocabulary(title_words + coined_titles, abstract_words + extra)


def _zipf(
    rng: np.random.Generator, n: int, size: int | tuple[int, ...], a: float = 1.1
) -> np.ndarray:
    # Zipf truncated to the vocabulary (beyond it, uniform).
    ranks = rng.zipf(a, size=size) - 1
    return np.where(ranks < n, ranks, rng.integers(0, n, size=size))


class Writer:
    """Draws papers; every call moves the same seeded generator on."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocab = vocabulary()
        self.title_words = np.array(self.vocab.title, dtype=object)
        self.abstract_words = np.array(self.vocab.abstract, dtype=object)
        self.taken: set[str] = set()

    def name(self) -> str:
        """A coined method name."""
        parts = self.rng.choice(_SYLLABLES, size=int(self.rng.integers(2, 4)))
        name = "".join(parts).capitalize()
        return name + str(self.rng.choice(["", "", "Net", "-2", "GPT", "Former"]))

    def titles(self, count: int) -> list[str]:
        """`count` titles, some with a coined name and a colon."""
        lengths = self.rng.integers(5, 13, size=count)
        draws = _zipf(self.rng, len(self.title_words), (count, 13), 1.3)
        named = self.rng.random(count) < 0.45
        out = []
        for i in range(count):
            words = " ".join(self.title_words[draws[i, : lengths[i]]])
            title = f"{self.name()}: {words}" if named[i] else words[:1].upper() + words[1:]
            while title.lower() in self.taken:  # every paper of the corpus is another paper
                title += " " + self.name()
            self.taken.add(title.lower())
            out.append(title)
        return out

    def abstracts(self, count: int) -> list[str]:
        """`count` abstracts of about 1.4 KB in sentences."""
        out = []
        draws = _zipf(self.rng, len(self.abstract_words), (count, 230))
        lengths = self.rng.integers(170, 230, size=count)
        for i in range(count):
            words = self.abstract_words[draws[i, : lengths[i]]].tolist()
            sentences = [" ".join(words[j : j + 19]) for j in range(0, len(words), 19)]
            out.append(" ".join(s[:1].upper() + s[1:] + "." for s in sentences))
        return out


def dump_text(papers: list[tuple[str, str]], day: int) -> str:
    """A dump in the Daily Papers text layout."""
    month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    date = f"{month[day % 12]} {day % 28 + 1}"
    head = f"Daily Papers\n\nbyAK and the research community\n\n{date}\n\n"
    return head + "".join(f"{t}\n\n{a}\n\n" if a else f"{t}\n\n" for t, a in papers)


def write_corpus(out: Path, papers: int, seed: int = SEED) -> list[Path]:
    """Write `papers` papers as dumps of PER_FILE into `out` (kept when already complete)."""
    out.mkdir(parents=True, exist_ok=True)
    done = out / "COMPLETE"
    files = [out / f"dump-{i:05d}.txt" for i in range(-(-papers // PER_FILE))]
    if done.exists() and int(done.read_text()) >= papers:
        return files
    writer = Writer(seed)
    for i, path in enumerate(files):
        count = min(PER_FILE, papers - i * PER_FILE)
        pairs = list(zip(writer.titles(count), writer.abstracts(count), strict=True))
        path.write_text(dump_text(pairs, i), encoding="utf-8")
        if i % 50 == 0:
            print(f"corpus: {i * PER_FILE} papers written", file=sys.stderr)
    done.write_text(str(papers))
    return files


# -- the probe dump -------------------------------------------------------------------------

_TYPO = re.compile(r"[a-z]{6,}")


def _retype(title: str, how: str, rng: np.random.Generator) -> str:
    if how == "case":
        return title.lower() if title != title.lower() else title.title()
    if how == "period":
        return title + "."
    if how == "colon":
        return title.replace(": ", " \u2014 ", 1) if ": " in title else title + " -"
    if how == "quotes":
        return "\u201c" + title.replace(" ", "  ", 1) + "\u201d"
    if how == "tex":
        words = title.split()
        k = int(rng.integers(0, len(words)))
        words[k] = "\\textit{" + words[k] + "}"
        return " ".join(words)
    # one-letter typo in a long word
    words = title.split()
    long = [i for i, w in enumerate(words) if _TYPO.fullmatch(w.lower())] or [len(words) - 1]
    i = long[int(rng.integers(0, len(long)))]
    w = words[i]
    j = int(rng.integers(1, max(2, len(w) - 1)))
    words[i] = w[:j] + ("x" if w[j : j + 1] != "x" else "y") + w[j + 1 :]
    return " ".join(words)


def _revise(abstract: str, rng: np.random.Generator, words: list[str]) -> str:
    tokens = abstract.split()
    for _ in range(4):
        tokens[int(rng.integers(0, len(tokens)))] = words[int(rng.integers(0, 3000))]
    return " ".join(tokens) + " Code is available."


def _near_miss(title: str, how: str) -> str:
    if how == "part":
        return title + " Part II"
    if how == "dim":
        return title + " in 3D"
    if how == "swap":
        words = title.split()
        words[-1] = "Speech" if words[-1] != "Speech" else "Music"
        return " ".join(words)
    return title + ": A Subtitle Nobody Used Before"


def probe(stored: list[tuple[str, str]], seed: int = 7) -> list[tuple[str, str, bool, str]]:
    """100 papers to decide against `stored`: (title, abstract, seen before?, case).

    With abstracts: 12 re-typed titles (same abstract), 8 re-typed titles with a revised
    abstract, 8 re-titled (same abstract), 8 revised abstracts (same title); without: 6
    re-typed titles. Distinct: 40 new papers, 12 near misses of stored titles with their own
    abstract, 6 near misses without abstract."""
    rng = np.random.default_rng(seed)
    writer = Writer(seed + 1)
    fresh_titles = writer.titles(60)
    fresh_abstracts = writer.abstracts(60)
    picks = rng.choice(len(stored), size=60, replace=False)
    ways = ["case", "period", "colon", "quotes", "tex", "typo"]
    out: list[tuple[str, str, bool, str]] = []
    k = 0

    def pick() -> tuple[str, str]:
        nonlocal k
        k += 1
        return stored[int(picks[k - 1])]

    for i in range(12):
        title, abstract = pick()
        out.append((_retype(title, ways[i % 6], rng), abstract, True, f"re-typed ({ways[i % 6]})"))
    for i in range(8):
        title, abstract = pick()
        revised = _revise(abstract, rng, writer.vocab.abstract)
        out.append((_retype(title, ways[i % 6], rng), revised, True, "re-typed and revised"))
    for i in range(8):
        title, abstract = pick()
        out.append((fresh_titles[i], abstract, True, "re-titled"))
    for _ in range(8):
        title, abstract = pick()
        out.append((title, _revise(abstract, rng, writer.vocab.abstract), True, "revised"))
    for i in range(6):
        title, _ = pick()
        out.append((_retype(title, ways[i], rng), "", True, f"no abstract, re-typed ({ways[i]})"))
    for i in range(40):
        out.append((fresh_titles[10 + i], fresh_abstracts[i], False, "new"))
    misses = ["part", "dim", "swap", "subtitle"]
    for i in range(12):
        title, _ = pick()
        out.append(
            (
                _near_miss(title, misses[i % 4]),
                fresh_abstracts[40 + i],
                False,
                f"near miss ({misses[i % 4]})",
            )
        )
    for i in range(6):
        title, _ = pick()
        out.append(
            (
                _near_miss(title, misses[i % 4]),
                "",
                False,
                f"near miss without abstract ({misses[i % 4]})",
            )
        )
    # A paper without abstract is followed by one with, or a text dump would pair it with
    # the next title.
    full = [out[int(i)] for i in rng.permutation(len(out)) if out[int(i)][1]]
    bare = [case for case in out if not case[1]]
    for j, case in enumerate(bare):
        full.insert(j * 8, case)
    return full


def write_probe(folder: Path, cases: list[tuple[str, str, bool, str]]) -> Path:
    """The probe as a dump file in `folder`, with its answers beside it in answers.json."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "probe.txt"
    path.write_text(dump_text([(t, a) for t, a, _, _ in cases], 400), encoding="utf-8")
    answers = [{"title": t, "seen": s, "case": c} for t, _, s, c in cases]
    (folder.parent / f"{folder.name}-answers.json").write_text(json.dumps(answers, indent=1))
    return path


def main() -> None:
    """Write a corpus."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "corpus")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    files = write_corpus(args.out, args.papers, args.seed)
    print(f"{len(files)} dump files in {args.out}")


if __name__ == "__main__":
    main()
