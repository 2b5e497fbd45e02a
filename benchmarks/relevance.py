"""How well papers are ranked by a reader's interests, on real days and on text dumps.

Real days (JSON): the papers that carry AI keywords, pooled. For each topic, the relevant
papers are those whose `ai_keywords` name the topic (a keyword containing one of its
fragments); the reader's interest is written in other words. Keywords are removed from every
paper before it is ranked, so no ranker sees the field relevance is judged by.

Text dumps (seeds/, no keywords, no ids): relevant means the title matches the topic's
regular expression, a rule of its own; the interest avoids those words.

With likes: 5 relevant papers spread over the listing are the reader's likes; without likes
the same papers are ranked, so both are scored alike. Twice: all papers pooled (the likes taken
out), then each day alone, as a digest ranks it (the likes taken from the other days).

Rankers: the listing order; the keyword highlight (DIGEST_HIGHLIGHT set to the interest's
phrases, or to each of its words, highlighted papers first); and the relevance models, the
lexical one also without its linear model of the likes (their mean instead); "auto" is what
digest uses (hybrid without likes when the embedding extra is installed, else lexical).
Printed: mean nDCG@10 and precision@5 over the topics, then the cost of each model, then the
cost of matching highlight terms (RE2 beside the backtracking `re`, and a hostile pattern).

    python benchmarks/relevance.py [--days DIR] [--seeds DIR] [--limit N] [--models a,b]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.formats import parse  # noqa: E402
from digest.interests import Interests, select  # noqa: E402
from digest.models import Paper  # noqa: E402
from digest.patterns import terms  # noqa: E402
from digest.relevance import LINEAR_MIN, Profile, rank  # noqa: E402
from digest.relevance.words import STOPWORDS  # noqa: E402

LIKES = 5

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
        "image generation and editing",
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
        "3D and 4D",
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
        "sequences over time",
        r"time series|temporal|recurrent|\brnn",
        "forecasting measurements over time, sensor signals, sequential memory of past steps",
    ),
]


def day_papers(folder: Path) -> list[Paper]:
    """The papers of the real days that carry keywords, once each, in listing order."""
    seen: set[str] = set()
    found = []
    for path in sorted(folder.glob("*.json")):
        for paper in parse(path.read_bytes(), path.name).papers:
            key = paper.arxiv_id or paper.title
            if paper.ai_keywords and key not in seen:
                seen.add(key)
                found.append(paper)
    return found


def seed_papers(folder: Path) -> list[Paper]:
    """The papers of the text dumps, once each by title, in listing order."""
    seen: set[str] = set()
    found = []
    for path in sorted(folder.glob("*.txt")):
        for paper in parse(path.read_bytes(), path.name).papers:
            if paper.title.lower() not in seen:
                seen.add(paper.title.lower())
                found.append(paper)
    return found


def first(papers: list[Paper], n: int) -> list[Paper]:
    """The first n papers of each dump."""
    count: dict[str, int] = {}
    kept = []
    for p in papers:
        count[p.source] = count.get(p.source, 0) + 1
        if count[p.source] <= n:
            kept.append(p)
    return kept


def ndcg(ranked: Sequence[bool], total: int, k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first k (binary relevance)."""
    gain = sum(1 / math.log2(i + 2) for i, hit in enumerate(ranked[:k]) if hit)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(total, k)))
    return gain / ideal if ideal else 0.0


def precision(ranked: Sequence[bool], k: int = 5) -> float:
    """Share of the first k that are relevant."""
    return sum(ranked[:k]) / k


Ranker = Callable[[list[Paper], str, list[Paper]], list[Paper]]


def by_listing(pool: list[Paper], interest: str, liked: list[Paper]) -> list[Paper]:
    return pool


def by_highlight(words: bool) -> Ranker:
    def ranker(pool: list[Paper], interest: str, liked: list[Paper]) -> list[Paper]:
        if words:
            raw = ",".join(
                w for w in re.findall(r"[a-z0-9]+", interest.lower()) if w not in STOPWORDS
            )
        else:
            raw = interest
        return list(select(pool, Interests(highlight=terms(raw, "DIGEST_HIGHLIGHT"))).full)

    return ranker


def by_model(model: str, linear_min: int = LINEAR_MIN) -> Ranker:
    def ranker(pool: list[Paper], interest: str, liked: list[Paper]) -> list[Paper]:
        profile = Profile(interest, tuple((p, 1) for p in liked))
        return rank(pool, profile, model=model, linear_min=linear_min).order(pool)

    return ranker


def rankers(models: Sequence[str]) -> dict[str, Ranker]:
    found: dict[str, Ranker] = {
        "listing order": by_listing,
        "highlight (phrases)": by_highlight(words=False),
        "highlight (words)": by_highlight(words=True),
    }
    for model in models:
        if model == "lexical":  # the likes as their mean, without the linear model
            found["lexical, no linear"] = by_model(model, linear_min=LIKES + 1)
        found[model] = by_model(model)
    return found


Topic = tuple[str, Callable[[Paper], bool], str]


def spread(papers: list[Paper], n: int) -> list[Paper]:
    """n papers spread over the listing, so listing order keeps relevant ones early and late."""
    return [papers[i * len(papers) // n] for i in range(n)]


def evaluate(
    papers: list[Paper], topics: Sequence[Topic], models: Sequence[str], by_day: bool
) -> None:
    """Print the table of mean nDCG@10 and P@5, without and with likes. Pooled: all papers
    ranked at once, the likes taken out of them. By day: each dump's papers ranked alone (as a
    digest does; TF-IDF fitted on that day only), the likes taken from the other days."""
    scores: dict[str, list[list[float]]] = {}
    runs = 0
    days = sorted({p.source for p in papers}) if by_day else [""]
    for _name, relevant, interest in topics:
        hits = [p for p in papers if relevant(p)]
        if len(hits) < LIKES + 2:
            continue
        for source in days:
            if by_day:
                listed = [p for p in papers if p.source == source]
                elsewhere = [p for p in hits if p.source != source]
                if len(elsewhere) < LIKES or not any(relevant(p) for p in listed):
                    continue
                liked = spread(elsewhere, LIKES)
            else:
                liked = spread(hits, LIKES)
                listed = [p for p in papers if p not in liked]
            runs += 1
            pool = [dataclasses.replace(p, ai_keywords=()) for p in listed]
            truth = {id(q): relevant(p) for p, q in zip(listed, pool, strict=True)}
            total = sum(truth.values())
            likes = [dataclasses.replace(p, ai_keywords=()) for p in liked]
            for label, ranker in rankers(models).items():
                row = scores.setdefault(label, [[], [], [], []])
                for col, given in ((0, []), (2, likes)):
                    ranked = [truth[id(p)] for p in ranker(pool, interest, given)]
                    row[col].append(ndcg(ranked, total))
                    row[col + 1].append(precision(ranked))
    unit = "topic-day pairs, each day ranked alone" if by_day else "topics, all papers at once"
    print(f"{runs} {unit}; {len(papers)} papers")
    print(f"| ranker | nDCG@10 | P@5 | nDCG@10, {LIKES} likes | P@5, {LIKES} likes |")
    print("|---|---|---|---|---|")
    for label, cols in scores.items():
        cells = " | ".join(f"{sum(c) / len(c):.3f}" for c in cols)
        print(f"| {label} | {cells} |")


def cost(papers: list[Paper], models: Sequence[str]) -> None:
    """Time and memory of ranking the pool for a reader with interests alone and with likes
    too: the run's first reader (terms and embeddings of the papers found, the model loaded
    on its first use in the process: its peak memory counts from then on, without the model's
    weights), then each further reader (the papers' terms and embeddings are kept)."""
    from digest.relevance import embedding
    from digest.relevance.words import terms

    print(f"\ncost, ranking {len(papers)} papers (ms and MB; CPU ms per 100 papers)")
    print("| model | reader | first reader ms | peak MB | each further reader, CPU | wall |")
    print("|---|---|---|---|---|---|")
    readers = {
        "interests": Profile(DAY_TOPICS[0][2]),
        f"+ {LIKES} likes": Profile(DAY_TOPICS[0][2], tuple((p, 1) for p in papers[:LIKES])),
    }
    for model in models:
        for kind, profile in readers.items():
            terms.cache_clear()
            embedding.forget()
            started = time.perf_counter()
            rank(papers, profile, model=model)
            first = (time.perf_counter() - started) * 1000
            terms.cache_clear()
            embedding.forget()
            tracemalloc.start()  # apart from the timing, which it slows down
            rank(papers, profile, model=model)
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            runs = 5
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(runs):
                rank(papers, profile, model=model)
            wall = (time.perf_counter() - started) / runs * 1e5 / len(papers)
            used = (time.process_time() - cpu) / runs * 1e5 / len(papers)
            print(f"| {model} | {kind} | {first:.0f} | {peak:.1f} | {used:.0f} | {wall:.0f} |")
    if embedding.available():
        print(f"install size added by digest[relevance]: {extra_size():.0f} MB")
        print(load_cost())


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


def load_cost() -> str:
    """What loading the embedding model costs once a process, measured in a fresh one."""
    import subprocess

    code = (
        "import time; rss = lambda: int(open('/proc/self/status').read()"
        ".split('VmRSS:')[1].split()[0]); before = rss(); started = time.perf_counter();"
        " from digest.relevance import embedding; embedding.embed(['a']);"
        " took = time.perf_counter() - started; grown = rss() - before;"
        " print(f'loading the embedding model once a process: {took * 1000:.0f} ms,"
        " {grown / 1024:.0f} MB resident')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return done.stdout.strip()


def extra_size() -> float:
    """MB of the packages the `relevance` extra adds to a plain install."""
    from importlib.metadata import PackageNotFoundError, distribution

    total = 0
    for name in (
        "wordllama",
        "tokenizers",
        "safetensors",
        "pydantic",
        "pydantic-core",
        "annotated-types",
        "typing-inspection",
        "toml",
        "requests",
        "urllib3",
        "charset-normalizer",
        "huggingface-hub",
        "hf-xet",
        "fsspec",
        "filelock",
        "pyyaml",
    ):
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        for f in dist.files or ():
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def main(argv: Sequence[str] | None = None) -> None:
    from digest.relevance import embedding

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=Path, default=ROOT / "tests" / "fixtures" / "real")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--limit", type=int, default=0, help="only the first N papers of a dump")
    default = "lexical,embedding,hybrid,auto" if embedding.available() else "lexical"
    parser.add_argument("--models", default=default)
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]

    days = day_papers(args.days)
    seeds = seed_papers(args.seeds)
    if args.limit:
        days, seeds = first(days, args.limit), first(seeds, args.limit)

    def keyword_topic(fragments: tuple[str, ...]) -> Callable[[Paper], bool]:
        return lambda p: any(f in k.lower() for k in p.ai_keywords for f in fragments)

    def title_topic(pattern: str) -> Callable[[Paper], bool]:
        compiled = re.compile(pattern, re.IGNORECASE)
        return lambda p: bool(compiled.search(p.title))

    day_topics = [(n, keyword_topic(f), i) for n, f, i in DAY_TOPICS]
    seed_topics = [(n, title_topic(t), i) for n, t, i in SEED_TOPICS]
    for by_day in (False, True):
        print(f"real days ({args.days}): relevant = the topic in ai_keywords, keywords hidden")
        evaluate(days, day_topics, models, by_day)
        print(f"\ntext dumps ({args.seeds}): relevant = the topic's pattern in the title")
        evaluate(seeds, seed_topics, models, by_day)
        print()
    cost(days, models)
    matching_cost(days)


if __name__ == "__main__":
    main()
