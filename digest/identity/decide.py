"""Decide which papers of a run are new, with the reason for each one left out. Pure.

The caller looks up the exact keys and the candidate papers in the store and passes in what
it found. The rule, in order (the README's "How digest recognises a paper" says it for
users):

1. Exact keys (`digest.identity.keys`): the same arXiv id (version suffix removed), the same
   normalised title, or the same normalised abstract is the same paper.
2. Fuzzy (`digest.identity.rule`), only against the few candidates the index proposes
   (`digest.identity.index`).
3. The same rules apply between the papers of one run, so a paper listed in several dumps
   at once is shown once.

A paper is identified once (`identify`): its keys, index entries and normalised identity
travel with it through the decision, the record and the index. `enrich` merges what the
repeats of one paper in a run know into the one shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from digest.identity.index import best_shared, grams
from digest.identity.keys import Identity, keys
from digest.identity.rule import Verdict, compare, distinct_ids
from digest.models import Paper, SeenPaper, Skip, StoredPaper, Thresholds

RULES = {"x": "same arXiv id", "t": "same title", "a": "same abstract"}


@dataclass(frozen=True, slots=True)
class Identified:
    """A paper with what identifies it, computed once: its exact keys, its entries in the
    candidate index, and its normalised title and abstract."""

    paper: Paper
    keys: tuple[str, ...]
    grams: tuple[int, ...]
    identity: Identity


def identify(paper: Paper) -> Identified:
    """The paper, identified."""
    return Identified(
        paper, tuple(keys(paper)), grams(paper), Identity.of(paper.title, paper.abstract)
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """The papers of a run split into the new ones and the ones left out, with reasons; and
    each paper decided with its identity, so that nothing identifies it again."""

    new: tuple[Paper, ...]
    skipped: tuple[Skip, ...]
    identified: Mapping[Paper, Identified] = field(default_factory=dict)

    @property
    def updated(self) -> tuple[Skip, ...]:
        """Papers seen before whose abstract has changed since."""
        return tuple(s for s in self.skipped if s.revised and s.matched is not None)

    def of(self, paper: Paper) -> Identified:
        """The identity of a paper of this run (or of a paper made from them since)."""
        found = self.identified.get(paper)
        return found if found is not None else identify(paper)


@dataclass
class _Run:
    """The papers taken as new so far in this run, indexed like the store."""

    papers: list[Identified] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    grams: dict[int, list[int]] = field(default_factory=dict)

    def add(self, paper: Identified) -> None:
        index = len(self.papers)
        self.papers.append(paper)
        for key in paper.keys:
            self.keys.setdefault(key, index)
        for gram in paper.grams:
            self.grams.setdefault(gram, []).append(index)

    def candidates(self, grams: Sequence[int]) -> list[int]:
        return best_shared([self.grams.get(gram, []) for gram in grams])


def decide(
    papers: Iterable[Paper | Identified],
    seen: Mapping[str, SeenPaper],
    candidates: Sequence[Sequence[StoredPaper]] | None = None,
    thresholds: Thresholds | None = None,
) -> Decision:
    """Split papers (identified, or identified here) into new and skipped.

    `seen` maps exact keys to papers already in the store; `candidates[i]` lists the stored
    papers the index proposes for the i-th paper (and those its exact keys found, so a
    changed abstract can be told). A paper repeated within the run is shown once, the first
    time it is listed.
    """
    thresholds = thresholds or Thresholds()
    new: list[Paper] = []
    skipped: list[Skip] = []
    identified: dict[Paper, Identified] = {}
    run = _Run()
    for i, item in enumerate(papers):
        paper = item if isinstance(item, Identified) else identify(item)
        identified.setdefault(paper.paper, paper)
        stored = candidates[i] if candidates is not None and i < len(candidates) else ()
        skip = _against_store(paper, seen, stored, thresholds)
        if skip is None:
            skip = _against_run(paper, run, thresholds)
        if skip is None:
            new.append(paper.paper)
            run.add(paper)
        else:
            skipped.append(skip)
    return Decision(tuple(new), tuple(skipped), identified)


def _against_store(
    new: Identified,
    seen: Mapping[str, SeenPaper],
    stored: Sequence[StoredPaper],
    thresholds: Thresholds,
) -> Skip | None:
    paper, identity = new.paper, new.identity
    for key in new.keys:
        if key in seen and not distinct_ids(paper, seen[key].arxiv_ids):
            matched = seen[key]
            revised = any(
                _revised(identity, Identity.of(candidate.title, candidate.abstract))
                for candidate in stored
                if candidate.seen.id == matched.id
            )
            return Skip(paper, matched, rule=RULES[key[0]], revised=revised)
    best: tuple[Verdict, StoredPaper] | None = None
    for candidate in stored:
        if distinct_ids(paper, candidate.seen.arxiv_ids):
            continue
        verdict = compare(identity, Identity.of(candidate.title, candidate.abstract), thresholds)
        if verdict.same and (best is None or verdict.score > best[0].score):
            best = (verdict, candidate)
    if best is None:
        return None
    verdict, candidate = best
    return Skip(paper, candidate.seen, verdict.rule, verdict.score, revised=verdict.revised)


def _against_run(new: Identified, run: _Run, thresholds: Thresholds) -> Skip | None:
    paper = new.paper
    for key in new.keys:
        if key in run.keys and not distinct_ids(paper, [run.papers[run.keys[key]].paper.arxiv_id]):
            earlier = run.papers[run.keys[key]]
            rule = "repeated in this run"
            if key[0] != "t":  # the same title needs no more saying
                rule += f": {RULES[key[0]]}"
            revised = _revised(new.identity, earlier.identity)
            return Skip(paper, None, rule, revised=revised, repeats=earlier.paper)
    best: tuple[Verdict, Paper] | None = None
    for index in run.candidates(new.grams):
        other = run.papers[index]
        if distinct_ids(paper, [other.paper.arxiv_id]):
            continue
        verdict = compare(new.identity, other.identity, thresholds)
        if verdict.same and (best is None or verdict.score > best[0].score):
            best = (verdict, other.paper)
    if best is None:
        return None
    verdict, found = best
    rule = f"repeated in this run: {verdict.rule}"
    return Skip(paper, None, rule, verdict.score, revised=verdict.revised, repeats=found)


def _revised(new: Identity, old: Identity) -> bool:
    """Whether a listing changed the abstract of the paper it is: both have one, and they
    differ once normalised."""
    return bool(new.abstract and old.abstract) and new.abstract != old.abstract


def enrich(
    new: Iterable[Paper],
    repeats: Iterable[Paper],
    identified: Callable[[Paper], Identified] | None = None,
) -> tuple[Paper, ...]:
    """The new papers, each completed with what a repeat of it in the same run knows and it
    does not (a text dump and the JSON of the same day: the JSON brings links and authors).
    `identified` gives a paper's identity when it is known already."""
    import dataclasses

    def keys_of(paper: Paper) -> tuple[str, ...]:
        return (identified or identify)(paper).keys

    papers = list(new)
    where = {key: i for i, paper in enumerate(papers) for key in keys_of(paper)}
    for repeat in repeats:
        i = next((where[k] for k in keys_of(repeat) if k in where), None)
        if i is None:
            continue
        missing = {
            f.name: getattr(repeat, f.name)
            for f in dataclasses.fields(Paper)
            if not getattr(papers[i], f.name) and getattr(repeat, f.name)
        }
        if missing:
            papers[i] = dataclasses.replace(papers[i], **missing)
            where.update((key, i) for key in keys_of(papers[i]))
    return tuple(papers)
