"""How well each way of ranking puts a reader's papers first: digest beside its peers, on the
same papers with the same words and the same liked papers.

Peers, each reproduced from its published method:
- listing order: the papers as listed;
- keyword highlight: DIGEST_HIGHLIGHT set to the topic's name, highlighted papers first;
- BM25 (Okapi, k1 1.2, b 0.75) of the interest phrase, statistics over the catalogue;
- arxiv-sanity-lite: TF-IDF of title, abstract and authors (scikit-learn, words and word
  pairs, sublinear counts, English stop words, its max_df 0.1; min_df 2 rather than its 5,
  which suits its 20,000 features of a large catalogue: on these few hundred papers, 2 did best
  for it, 0.54 and 0.70 beside 0.48 and 0.70 with 5 liked), a linear SVM (C 0.01, classes
  balanced) of the liked papers against every other paper of the catalogue;
- zotero-arxiv-daily: the abstracts' embeddings (WordLlama, digest's own embedding model),
  each paper scored by its cosine with the liked papers, newer likes weighing more
  (1 / (1 + log10 rank)); with interests only, the cosine with the interest phrase.

digest ranks as a run does, its term statistics from the catalogue: "digest" by the likes
alone, "digest (with the interest)" by the interest too (model "auto": with the embedding extra
installed, hybrid for a reader without likes), and the same with the words alone (lexical).

Papers and labels. Real days (JSON): relevant to a topic are the papers whose `ai_keywords`
name it; the keywords are taken off every paper before any ranker sees it, and only papers
that had keywords are ranked (the others are still in the catalogue). Text dumps (seeds/):
relevant means the title matches the topic's pattern. Every reader writes the interest in
words of their own that avoid the topic's name ("own words"), or as the topic's name.

Settings: interests only; 5, 20 and 200 liked papers (relevant papers spread over the
listing, taken out of the ranked papers), alone or with the interest. A topic counts in a
setting when it has the likes and at least 3 relevant papers left to rank. The catalogue is
every paper of the folder: what the state holds once they have all arrived.
Pooled: all papers ranked at once. By day: each day ranked alone, as a digest ranks it, the
likes taken from the other days; a topic's score is its mean over the days.

Printed: mean nDCG@10 over the topics, ± their standard deviation, (how many topics); then
each method's cost per reader per 100 papers (CPU time, the median of runs that alternate
the methods), what it prepares once a run for every reader, and digest's memory per reader.

    python benchmarks/relevance.py [--days DIR] [--seeds DIR] [--by-day] [--runs N]
        [--only digest,BM25] [--catalogue N] [--matching]

(scikit-learn, for arxiv-sanity-lite, is in the dev extra; WordLlama in the relevance one.)
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import re
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.formats import parse  # noqa: E402
from digest.interests import Interests, select  # noqa: E402
from digest.models import Paper  # noqa: E402
from digest.patterns import terms  # noqa: E402
from digest.relevance import Profile, rank  # noqa: E402
from digest.relevance.words import STOPWORDS  # noqa: E402

LIKES = (5, 20, 200)
LEFT = 3  # relevant papers a topic must have left to rank, past its likes

# name, keyword fragments that make a paper relevant, the interest in other words
DAY_TOPICS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "reinforcement learning",
        ("reinforcement learning", "rlvr", "rlhf", "grpo", "policy optimization", "rl)"),
        "training by trial and error with rewards, verifier signals, policy gradient updates",
    ),
    (
        "video generation",
        (
            "video generation",
            "video diffusion",
            "video synthesis",
            "text-to-video",
            "video generative",
            "video inpainting",
            "audio-video generation",
        ),
        "synthesising moving clips and films from prompts, motion and camera control of frames",
    ),
    (
        "image generation, image editing",
        (
            "text-to-image",
            "image generation",
            "image editing",
            "layout-to-image",
            "image regeneration",
            "personalization",
        ),
        "creating and retouching pictures from written prompts, photo realistic rendering",
    ),
    (
        "agents",
        ("agent", "agentic"),
        "autonomous assistants that use tools, browse the web and carry out multi-step tasks",
    ),
    (
        "code",
        ("code generation", "coding", "codebase", "software engineering", "terminal"),
        "writing programs, fixing software repositories, command line tasks for developers",
    ),
    (
        "robotics",
        ("robot", "manipulation", "vision-language-action", "locomotion", "embodied", "navigation"),
        "machines that grasp objects, walk and act in the physical world, grippers and arms",
    ),
    (
        "3D, 4D",
        ("3d", "4d", "gaussian splatting", "reconstruction"),
        "recovering geometry of scenes from cameras, depth, point clouds, tracking in space",
    ),
    (
        "reasoning",
        ("reasoning", "chain-of-thought", "cot", "aime"),
        "step by step thinking to solve maths olympiad problems and logic puzzles",
    ),
    (
        "vision-language models",
        ("vision-language", "vlm", "mllm", "multimodal large language", "video-llm"),
        "models that look at pictures and answer questions about them, visual assistants",
    ),
    (
        "benchmarks",
        ("benchmark",),
        "new test suites and leaderboards measuring how well systems perform, evaluation sets",
    ),
]

# name, title pattern that makes a seed paper relevant, the interest in other words
SEED_TOPICS: list[tuple[str, str, str]] = [
    (
        "compression",
        r"prun|quanti[sz]|compress|distill|sparse|sparsity|low.?rank|low precision",
        "making networks smaller and cheaper to run, removing weights, fewer bits per weight,"
        " student teacher training",
    ),
    (
        "graphs",
        r"graph|gnn",
        "learning on nodes and edges, message passing over relational structure, molecules",
    ),
    (
        "architecture search",
        r"architecture search|\bnas\b|supernet",
        "automatically finding the best network design, search spaces of layers and operations",
    ),
    (
        "adversarial robustness",
        r"adversarial|robust|trojan|attack|fooled",
        "small input perturbations that trick classifiers, defending models against"
        " malicious inputs",
    ),
    (
        "interpretability",
        r"interpret|explain|explanation|black.?box|visuali[sz]",
        "understanding why a model makes its predictions, saliency maps, human concepts",
    ),
    (
        "brain-inspired learning",
        r"spik|hebbian|forward.?learning|backpropagation.?free|local learning|biologically"
        r"|forward-propagation",
        "alternatives to backprop inspired by neurons of the brain, pulses, local updates",
    ),
    (
        "transformers",
        r"transformer|attention|\bvit",
        "self attention models, token mixing layers, BERT and GPT style encoders",
    ),
    (
        "time series",
        r"time series|temporal|recurrent|\brnn",
        "forecasting measurements over time, sensor signals, sequential memory of past steps",
    ),
]


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Papers, keywords taken off, with what makes each relevant to each topic."""

    name: str
    papers: list[Paper]  # the catalogue: every paper
    ranked: list[Paper]  # those that can be judged
    topics: list[tuple[str, str, set[Paper]]]  # name, interest in own words, relevant papers


def _bare(paper: Paper) -> Paper:
    return dataclasses.replace(paper, ai_keywords=())


def real_days(folder: Path) -> Corpus:
    """The real days: relevant = the topic named in the paper's ai_keywords (then hidden)."""
    seen: set[str] = set()
    papers, ranked = [], []
    labels: dict[Paper, tuple[str, ...]] = {}
    for path in sorted(folder.glob("*.json")):
        for paper in parse(path.read_bytes(), path.name).papers:
            key = paper.arxiv_id or paper.title
            if key in seen:
                continue
            seen.add(key)
            bare = _bare(paper)
            papers.append(bare)
            if paper.ai_keywords:
                ranked.append(bare)
                labels[bare] = tuple(k.lower() for k in paper.ai_keywords)
    topics = [
        (name, words, {p for p in ranked if any(f in k for k in labels[p] for f in fragments)})
        for name, fragments, words in DAY_TOPICS
    ]
    return Corpus(f"real days ({folder})", papers, ranked, topics)


def seeds(folder: Path) -> Corpus:
    """The text dumps: relevant = the topic's pattern in the title."""
    seen: set[str] = set()
    papers = []
    for path in sorted(folder.glob("*.txt")):
        for paper in parse(path.read_bytes(), path.name).papers:
            if paper.title.lower() not in seen:
                seen.add(paper.title.lower())
                papers.append(_bare(paper))
    topics = []
    for name, pattern, words in SEED_TOPICS:
        compiled = re.compile(pattern, re.IGNORECASE)
        topics.append((name, words, {p for p in papers if compiled.search(p.title)}))
    return Corpus(f"text dumps ({folder})", papers, papers, topics)


def ndcg(ranked: Sequence[bool], total: int, k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first k (binary relevance)."""
    gain = sum(1 / math.log2(i + 2) for i, hit in enumerate(ranked[:k]) if hit)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(total, k)))
    return gain / ideal if ideal else 0.0


def spread(papers: Sequence[Paper], n: int) -> list[Paper]:
    """n papers spread over the listing, so listing order keeps relevant ones early and late."""
    return [papers[i * len(papers) // n] for i in range(n)]


@dataclasses.dataclass(frozen=True)
class Ask:
    """What a reader gives: an interest in words, the topic's name (what they highlight), and
    the papers they liked, newest last."""

    interest: str
    word: str
    liked: list[Paper]


class Method:
    """A way of ranking: `prepare` once for a catalogue (shared by every reader of a run),
    `order` a reader's papers. `needs`: what it ranks by ("interest", "likes" or both)."""

    name = ""
    needs: frozenset[str] = frozenset({"interest"})

    def prepare(self, catalogue: list[Paper]) -> None:
        """Fit what every reader shares."""

    def order(self, pool: list[Paper], ask: Ask) -> list[Paper]:
        raise NotImplementedError


class Listing(Method):
    name = "listing order"
    needs = frozenset({"interest", "likes"})

    def order(self, pool: list[Paper], ask: Ask) -> list[Paper]:
        return pool


class Highlight(Method):
    name = "keyword highlight of the topic's name"
    needs = frozenset({"interest", "likes"})

    def order(self, pool: list[Paper], ask: Ask) -> list[Paper]:
        return list(select(pool, Interests(highlight=terms(ask.word, "DIGEST_HIGHLIGHT"))).full)


_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def _text(paper: Paper) -> str:
    return " ".join((paper.title, paper.abstract, *paper.authors))


class BM25(Method):
    name = "BM25 of the interest phrase"
    k1, b = 1.2, 0.75

    def prepare(self, catalogue: list[Paper]) -> None:
        self.df: Counter[str] = Counter()
        lengths = 0
        for paper in catalogue:
            tokens = _tokens(_text(paper))
            self.df.update(set(tokens))
            lengths += len(tokens)
        self.n = len(catalogue)
        self.average = lengths / max(self.n, 1)

    def order(self, pool: list[Paper], ask: Ask) -> list[Paper]:
        query = set(_tokens(ask.interest))
        idf = {t: math.log(1 + (self.n - self.df[t] + 0.5) / (self.df[t] + 0.5)) for t in query}

        def score(paper: Paper) -> float:
            tokens = _tokens(_text(paper))
            counts = Counter(tokens)
            norm = self.k1 * (1 - self.b + self.b * len(tokens) / self.average)
            return sum(idf[t] * counts[t] * (self.k1 + 1) / (counts[t] + norm) for t in query)

        scores = {p: score(p) for p in pool}
        return sorted(pool, key=lambda p: -scores[p])


class SanityLite(Method):
    """TF-IDF over the catalogue and a linear SVM of the likes against all the rest."""

    name = "arxiv-sanity-lite: TF-IDF + linear SVM"
    needs = frozenset({"likes"})

    def __init__(self, min_df: int = 2) -> None:
        self.min_df = min_df

    def prepare(self, catalogue: list[Paper]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectoriser = TfidfVectorizer(
            strip_accents="unicode",
            lowercase=True,
            analyzer="word",
            stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
            ngram_range=(1, 2),
            max_features=20000,
            norm="l2",
            sublinear_tf=True,
            max_df=0.1,
            min_df=self.min_df,
        )
        self.x = vectoriser.fit_transform([_text(p) for p in catalogue])
        self.row = {p: i for i, p in enumerate(catalogue)}

    def order(self, pool: list[Paper], ask: Ask) -> list[Paper]:
        import numpy as np
        from sklearn.svm import LinearSVC

        y = np.zeros(self.x.shape[0])
        y[[self.row[p] for p in ask.liked]] = 1
        svm = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
        svm.fit(self.x, y)
        s = svm.decision_function(self.x[[self.row[p] for p in pool]])
        scores = dict(zip(pool, s, strict=True))
        return sorted(pool, key=lambda p: -scores[p])


class Zotero(Method):
    """Embedding similarity of the abstracts to the liked papers', newer likes weighing more."""

    name = "zotero-arxiv-daily: embedding similarity (WordLlama)"
    needs = frozenset({"interest", "likes"})

    def prepare(self, catalogue: list[Paper]) -> None:
        from digest.relevance import embedding

        embedding.embed([p.abstract for p in catalogue])

    def order(self, pool: list[Paper], ask: Ask) -> list[Paper]:
        import numpy as np

        from digest.relevance import embedding

        x = embedding.embed([p.abstract for p in pool])
        if ask.liked:
            newest = list(reversed(ask.liked))
            weight = 1 / (1 + np.log10(np.arange(len(newest)) + 1))
            weight = weight / weight.sum()
            s = (x @ embedding.embed([p.abstract for p in newest]).T) @ weight
        else:
            s = x @ embedding.embed([ask.interest])[0]
        scores = dict(zip(pool, s, strict=True))
        return sorted(pool, key=lambda p: -scores[p])


class Digest(Method):
    """digest's own ranking, as a run calls it: the catalogue prepared once for every reader
    where the ranking takes one (an older ranking fits its statistics on the papers alone)."""

    def __init__(self, interest: bool = True, model: str = "auto") -> None:
        self.interest = interest
        self.model = model
        self.name = "digest" + (" (with the interest)" if interest else "")
        if model != "auto":
            self.name += f", {model} model"
        self.needs = frozenset({"interest", "likes"} if interest else {"likes"})
        self.catalogue: Any = None

    def prepare(self, catalogue: list[Paper]) -> None:
        import digest.relevance as relevance

        self.catalogue = None
        if hasattr(relevance, "Catalogue"):
            self.catalogue = relevance.Catalogue.of(catalogue)

    def order(self, pool: list[Paper], ask: Ask) -> list[Paper]:
        profile = Profile(ask.interest if self.interest else "", tuple((p, 1) for p in ask.liked))
        if "catalogue" in inspect.signature(rank).parameters:
            ranking = rank(pool, profile, catalogue=self.catalogue, model=self.model)
        else:
            ranking = rank(pool, profile, model=self.model)
        return ranking.order(pool)


def methods(only: Sequence[str] = ()) -> list[Method]:
    """Every method compared, or those whose names contain one of `only`."""
    from importlib.util import find_spec

    from digest.relevance import embedding

    def wanted(name: str) -> bool:
        return not only or any(o in name for o in only)

    found: list[Method] = [Listing(), Highlight(), BM25()]
    if find_spec("sklearn"):
        found.append(SanityLite())
    elif wanted(SanityLite.name):
        print("arxiv-sanity-lite left out: it needs scikit-learn (pip install -e '.[dev]')")
    if embedding.available():
        found.append(Zotero())
    found += [Digest(interest=False), Digest(interest=True)]
    if embedding.available():  # "auto" embeds: what the words alone do, measured
        found.append(Digest(interest=True, model="lexical"))
    return [m for m in found if wanted(m.name)]


Setting = tuple[str, str, int]  # column, the interest ("words" or "name"), likes


SETTINGS: list[Setting] = [
    ("interests, own words", "words", 0),
    ("interests, topic name", "name", 0),
    *((f"{n} likes", "words", n) for n in LIKES),
]


def evaluate(corpus: Corpus, found: list[Method], by_day: bool) -> dict[str, dict[str, str]]:
    """Each method's mean nDCG@10 ± spread (topics) in each setting, as table cells."""
    for method in found:
        method.prepare(corpus.papers)
    days = sorted({p.source for p in corpus.ranked}) if by_day else [""]
    cells: dict[str, dict[str, str]] = {m.name: {} for m in found}
    for column, kind, n in SETTINGS:
        per_topic: dict[str, list[float]] = {m.name: [] for m in found}
        for name, words, relevant in corpus.topics:
            hits = [p for p in corpus.ranked if p in relevant]
            results: dict[str, list[float]] = {m.name: [] for m in found}
            for source in days:
                elsewhere = [p for p in hits if p.source != source] if by_day else hits
                if len(elsewhere) < n:
                    continue
                liked = spread(elsewhere, n) if n else []
                chosen = set(liked)
                pool = [
                    p
                    for p in corpus.ranked
                    if (not by_day or p.source == source) and p not in chosen
                ]
                total = sum(p in relevant for p in pool)
                if total < (1 if by_day else LEFT):
                    continue
                ask = Ask(words if kind == "words" else name, name, liked)
                for method in found:
                    if ("likes" if n else "interest") not in method.needs:
                        continue
                    ranked = [p in relevant for p in method.order(pool, ask)]
                    results[method.name].append(ndcg(ranked, total))
            for label, scores in results.items():
                if scores:
                    per_topic[label].append(sum(scores) / len(scores))
        for label, scores in per_topic.items():
            if not scores:
                cells[label][column] = "-"
                continue
            sd = statistics.pstdev(scores) if len(scores) > 1 else 0.0
            cells[label][column] = f"{sum(scores) / len(scores):.2f} ± {sd:.2f} ({len(scores)})"
    return cells


def table(cells: dict[str, dict[str, str]]) -> None:
    """Print the cells as a Markdown table, one row a method."""
    columns = [c for c, _, _ in SETTINGS]
    print("| method | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for label, row in cells.items():
        print(f"| {label} | " + " | ".join(row.get(c, "-") for c in columns) + " |")


def cost(papers: list[Paper], found: list[Method], runs: int) -> None:
    """CPU ms of each method per reader per 100 papers: the first 100 papers ranked for a
    reader with an interest, 20 likes, 200 likes (spread over the catalogue); the methods
    alternate, each figure the median of `runs`. Then what each prepares once a run for
    every reader, and digest's peak memory per reader."""
    pool = papers[:100]
    readers = {
        "interest": Ask(DAY_TOPICS[0][2], DAY_TOPICS[0][0], []),
        **{
            f"{n} likes": Ask(DAY_TOPICS[0][2], DAY_TOPICS[0][0], spread(papers[100:], n))
            for n in (20, 200)
            if len(papers) - 100 >= n
        },
    }
    prepared: dict[str, float] = {}
    for method in found:
        started = time.process_time()
        method.prepare(papers)
        prepared[method.name] = (time.process_time() - started) * 1000
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(runs):
        for kind, ask in readers.items():
            for method in found:
                if ("likes" if ask.liked else "interest") not in method.needs:
                    continue
                started = time.process_time()
                method.order(pool, ask)
                used = (time.process_time() - started) * 1000 * 100 / len(pool)
                times.setdefault((method.name, kind), []).append(used)
    print(f"\ncost: CPU ms per reader per 100 papers, median of {runs} alternated runs;")
    print(f"prepared once a run for every reader: the catalogue of {len(papers)} papers")
    print("| method | " + " | ".join(readers) + " | prepared once, ms |")
    print("|---" * (len(readers) + 2) + "|")
    for method in found:
        row = [
            f"{statistics.median(times[method.name, k]):.1f}" if (method.name, k) in times else "-"
            for k in readers
        ]
        print(f"| {method.name} | " + " | ".join(row) + f" | {prepared[method.name]:.0f} |")
    from digest.relevance import embedding

    if embedding.available():
        embedding.embed(["the model loaded first: once a process"])
        embedding.forget()
        started = time.process_time()
        embedding.embed([f"{p.title}\n{p.abstract}" for p in pool])
        took = (time.process_time() - started) * 1000
        print(f"embedding 100 papers, once a run for every reader (WordLlama): {took:.0f} ms")
    for method in found:
        if isinstance(method, Digest) and not method.interest:
            for kind, ask in readers.items():
                tracemalloc.start()
                method.order(pool, ask)
                peak = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
                print(f"digest's peak memory for a reader with {kind}: {peak:.1f} MB")


MATCHED = {
    "plain words": "diffusion, kv cache, reinforcement learning",
    "a regular expression": r"diffus\w+|video gen\w*, \bLLMs?\b",
    "a hostile pattern": r"(\w+\s?)+$",
}


def matching_cost(papers: list[Paper], runs: int = 7) -> None:
    """CPU time of matching a reader's highlight terms against the papers, as digest matches
    them (plain words literally, anything else by RE2) beside Python's backtracking `re` on
    the same patterns, the two sides alternated; then a hostile pattern's time as an abstract
    grows, where `re` doubles with each word and RE2 stays flat."""
    import statistics

    from digest.interests import searched

    texts = [searched(p) for p in papers]
    print(f"\nmatching highlight terms against {len(papers)} papers (CPU ms per 100 papers,")
    print(f"median of {runs} alternated runs, spread min-max)")
    print("| terms | digest (RE2 / literal) | Python re | ratio |")
    print("|---|---|---|---|")

    def timed(search: Callable[[str], object]) -> float:
        started = time.process_time()
        for text in texts:
            search(text)
        return (time.process_time() - started) * 1e5 / len(texts)

    for label, raw in MATCHED.items():
        ours = terms(raw, "DIGEST_HIGHLIGHT")
        # Plain words are matched as before, by the standard library: the same on both sides.
        theirs = [
            t.matcher if isinstance(t.matcher, re.Pattern) else re.compile(t.text, re.I)
            for t in ours
        ]
        # The hostile pattern is not run by `re` on real abstracts: a sentence of twenty words
        # before a period takes it a million steps at each of its starts.
        hostile = label == "a hostile pattern"
        a: list[float] = []
        b: list[float] = []
        for _ in range(runs):
            a.append(timed(lambda x, ours=ours: [t.found(x) for t in ours]))
            if not hostile:
                b.append(timed(lambda x, theirs=theirs: [p.search(x) for p in theirs]))
        ma = statistics.median(a)
        mb = statistics.median(b) if b else math.nan
        cell = f"{mb:.2f} ({min(b):.2f}-{max(b):.2f}) | {mb / ma:.2f}x" if b else "(hangs) | -"
        print(f"| {label} | {ma:.2f} ({min(a):.2f}-{max(a):.2f}) | {cell} |")
    (hostile,) = terms(MATCHED["a hostile pattern"], "DIGEST_HIGHLIGHT")
    backtracking = re.compile(hostile.text, re.IGNORECASE)
    print("\nthe hostile pattern on a word of N letters and a '!' (CPU ms)")
    print("| N letters | RE2 | Python re |")
    print("|---|---|---|")
    for n in (16, 18, 20, 22, 24, 100_000):
        text = "a" * n + "!"
        started = time.process_time()
        hostile.found(text)
        ours_ms = (time.process_time() - started) * 1000
        if n <= 24:
            started = time.process_time()
            backtracking.search(text)
            theirs_ms = f"{(time.process_time() - started) * 1000:.1f}"
        else:
            theirs_ms = "(years)"
        print(f"| {n:,} | {ours_ms:.2f} | {theirs_ms} |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    shared = ROOT.parent.parent / "shared" / "data" / "daily_papers"
    parser.add_argument("--days", type=Path, default=shared)
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--by-day", action="store_true", help="also rank each day alone")
    parser.add_argument("--runs", type=int, default=7, help="alternated runs timed")
    parser.add_argument("--only", default="", help="methods whose names contain one of these")
    parser.add_argument("--matching", action="store_true", help="also time highlight matching")
    parser.add_argument("--catalogue", type=int, default=2000, help="papers the costs assume")
    args = parser.parse_args(argv)
    if not args.days.is_dir():
        args.days = ROOT / "tests" / "fixtures" / "real"
    found = methods([o for o in args.only.split(",") if o])
    corpora = [real_days(args.days), seeds(args.seeds)]
    for corpus in corpora:
        for by_day in (False, True) if args.by_day else (False,):
            how = "each day ranked alone" if by_day else "all papers ranked at once"
            print(f"\n{corpus.name}, {len(corpus.ranked)} papers ranked, {how}:")
            print("nDCG@10, mean ± standard deviation over topics (topics)")
            table(evaluate(corpus, found, by_day))
    everything = [p for corpus in corpora for p in corpus.papers]
    # A catalogue the size a digest keeps (digest.relevance.RECENT), the papers over again.
    catalogue = [
        dataclasses.replace(p, title=f"{p.title} {i // len(everything)}")
        for i, p in enumerate(everything * (1 + args.catalogue // len(everything)))
    ][: max(args.catalogue, len(everything))]
    cost(catalogue, found, args.runs)
    if args.matching:
        matching_cost(corpora[0].ranked)


if __name__ == "__main__":
    main()
