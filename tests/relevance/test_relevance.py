"""The relevance scorer: ranking by interests in words, reasons, likes, text dumps."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.formats import parse
from digest.models import Paper
from digest.relevance import Catalogue, Profile, rank
from digest.relevance.words import stem

ROOT = Path(__file__).resolve().parent.parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"


def day(name: str) -> list[Paper]:
    return list(parse((REAL / name).read_bytes(), name).papers)


def titled(papers: list[Paper], start: str) -> Paper:
    return next(p for p in papers if p.title.startswith(start))


@pytest.mark.parametrize(
    ("interests", "first"),
    [
        ("faster serving of language models on long inputs", ["FlashPrefill V2"]),
        ("efficient inference for language models", ["FlashPrefill V2"]),
        ("speech and sound", ["Towards Quantifying Benchmark", "Listening Forward"]),
        ("robot arms learning from trial and error", ["EXIMO"]),
        ("code generation from requirements", ["Repo0"]),
        ("identity of people in group photos", ["WithEveryone"]),
    ],
)
def test_papers_that_fit_the_interests_come_first(interests: str, first: list[str]) -> None:
    """As a run ranks them: the day's papers, words weighed by all the papers seen."""
    papers = day("2026-08-21.json")
    seen = Catalogue.of(p for path in sorted(REAL.glob("*.json")) for p in day(path.name))
    ranking = rank(papers, Profile(interests), seen, model="lexical")
    top = ranking.order(papers)[: len(first)]
    assert all(any(p.title.startswith(f) for p in top) for f in first)
    scores = [ranking.scores[p] for p in ranking.order(papers)]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1


def test_the_reason_names_the_interest_words_matched_as_the_reader_wrote_them() -> None:
    papers = [
        Paper("Post-training quantization of LLM weights", "We quantize weights to 4 bits."),
        Paper("A survey of robot grasping", "Robots grasp objects."),
    ]
    ranking = rank(papers, Profile("quantisation, efficient inference"), model="lexical")
    assert ranking.reasons[papers[0]] == "matches: quantisation"
    assert papers[1] not in ranking.reasons  # no reason: it matches nothing
    assert ranking.scores[papers[1]] == 0.0 < ranking.scores[papers[0]]


@pytest.mark.parametrize(
    ("word", "same"),
    [
        ("quantisation", "quantization"),
        ("quantized", "quantization"),
        ("models", "model"),
        ("learning", "learned"),
    ],
)
def test_spellings_and_forms_of_a_word_meet(word: str, same: str) -> None:
    assert stem(word) == stem(same)


def test_a_liked_paper_moves_the_papers_like_it_up_and_says_so() -> None:
    papers = day("2026-08-21.json")
    liked = titled(day("2025-07-22.json"), "GR-3 Technical Report")  # a robot policy
    interests = "memory of language models"
    before = rank(papers, Profile(interests), model="lexical").order(papers)
    ranking = rank(papers, Profile(interests, ((liked, 1),)), model="lexical")
    after = ranking.order(papers)
    eximo = titled(papers, "EXIMO")
    assert before.index(eximo) > 0 and after[0] == eximo
    assert ranking.reasons[eximo] == "like: GR-3 Technical Report"


def test_a_disliked_paper_moves_the_papers_like_it_down() -> None:
    papers = day("2026-08-21.json")
    disliked = titled(day("2025-12-10.json"), "DeepCode")  # coding agents
    profile = Profile("agents")
    before = rank(papers, profile, model="lexical")
    after = rank(papers, Profile("agents", ((disliked, -1),)), model="lexical")
    swe = titled(papers, "SWE-bench Science")
    assert after.scores[swe] < before.scores[swe]
    assert after.order(papers).index(swe) > before.order(papers).index(swe)


def test_likes_alone_rank_without_any_interests() -> None:
    papers = day("2026-08-21.json")
    liked = [titled(day("2025-12-10.json"), "DeepCode")]
    ranking = rank(papers, Profile(likes=tuple((p, 1) for p in liked)), model="lexical")
    first = ranking.order(papers)[0]
    assert first.title.startswith("SWE-bench Science")  # coding agents, as DeepCode
    # The one paper that stands out as close to the like says so; the others, nearest to it
    # only because it is the one like, claim nothing.
    assert ranking.reasons == {first: "like: DeepCode: Open Agentic Coding"}


def test_likes_are_learned_against_the_catalogue_not_the_day_alone() -> None:
    """A day of robot papers, liked robot papers: the day alone says nothing of which of
    their words are common; the catalogue (every paper seen) does."""
    robots = [
        Paper(f"Robot policy {i}", f"A robot policy for {w} with a gripper.")
        for i, w in enumerate(("grasping", "cloth folding", "pouring", "stacking"))
    ]
    liked = [Paper("Gripper policies", "A robot policy with a gripper for grasping cups.")]
    day_ = [
        Paper("Language policy", "A policy of language agents for robot dialogue."),
        *robots[:2],
    ]
    catalogue = Catalogue.of(
        [*(Paper(f"Agents {i}", "Language agents follow a policy.") for i in range(30)), *day_]
    )
    profile = Profile(likes=tuple((p, 1) for p in liked))
    ranking = rank(day_, profile, catalogue)
    assert ranking.order(day_)[-1] == day_[0]  # "policy" is everywhere: no sign of a like


def test_a_word_most_papers_share_is_never_a_reason() -> None:
    papers = [Paper(f"Language models {i}", "Large language models learn.") for i in range(20)]
    papers.append(Paper("Language models that denoise", "Denoising language models."))
    ranking = rank(papers, Profile("denoising language models"), Catalogue.of(papers))
    assert ranking.reasons[papers[-1]] == "matches: denoising"
    assert ranking.order(papers)[0] == papers[-1]
    assert all(p not in ranking.reasons for p in papers[:-1])


def test_a_text_dump_ranks_by_title_and_abstract_alone(seeds: list[Path]) -> None:
    """Text dumps have no keywords, authors or ids: the words a listing shows suffice."""
    papers = list(parse(seeds[0].read_bytes(), seeds[0].name).papers)
    assert not any(p.ai_keywords or p.arxiv_id for p in papers)
    interests = "making networks smaller, fewer bits per weight, removing weights"
    ranking = rank(papers, Profile(interests), model="lexical")
    top_papers = ranking.order(papers)[:3]
    top = [p.title for p in top_papers]
    assert "Model compression via distillation and quantization" in top
    assert all(ranking.reasons.get(p, "matches: ").startswith("matches: ") for p in top_papers)


def test_the_embedding_model_finds_papers_that_say_it_in_other_words() -> None:
    pytest.importorskip("wordllama")
    papers = day("2026-08-21.json") + day("2025-12-10.json")
    face = titled(papers, "Preserving Source Video Realism")
    lexical = rank(papers, Profile("cinema"), model="lexical")
    hybrid = rank(papers, Profile("cinema"), model="hybrid")
    assert lexical.scores[face] == 0.0
    assert hybrid.order(papers).index(face) < 3
    assert face not in hybrid.reasons  # no word of the interests is in it: none is claimed
    assert hybrid.model == "hybrid"


def test_nothing_to_rank_and_an_unknown_model() -> None:
    assert rank([], Profile("anything")).scores == {}
    with pytest.raises(ValueError, match="unknown relevance model"):
        rank(day("2026-08-21.json"), Profile("x"), model="oracle")


def _now_json(tmp_path: Path, *days: str, **env: str) -> dict[str, object]:
    import json
    import shutil

    from tests.processes import run_digest

    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    for name in days:
        shutil.copy(REAL / name, inbox / name)
    args = ["now", "--inbox", str(inbox), "--deliver", "stdout", "--format", "json"]
    done = run_digest(tmp_path, *args, env=env)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_digest_now_with_interests_puts_the_most_relevant_first_with_score_and_reason(
    tmp_path: Path,
) -> None:
    shown = _now_json(
        tmp_path,
        "2026-08-21.json",
        "2025-12-10.json",
        DIGEST_INTERESTS="faster serving of language models on long inputs, KV cache",
        DIGEST_MIN_SCORE="0.05",
    )
    papers = shown["papers"]
    more = shown["more"]
    assert isinstance(papers, list) and isinstance(more, list)
    assert papers[0]["title"].startswith("FlashPrefill V2")
    assert papers[0]["reason"].startswith("matches: ")
    assert "serving" in papers[0]["reason"] or "cache" in papers[0]["reason"]
    scores = [p["score"] for p in papers]
    assert scores == sorted(scores, reverse=True)
    assert all(s >= 0.05 for s in scores)
    assert more and all(p["score"] < 0.05 and not p["reason"] for p in more)
    stats = shown["stats"]
    assert isinstance(stats, dict)
    assert stats["low_scored"] == len(more) and stats["new"] == len(papers) + len(more) == 27


def test_digest_now_without_interests_scores_nothing_and_keeps_the_order(
    tmp_path: Path,
) -> None:
    shown = _now_json(tmp_path, "2026-08-21.json")
    papers = shown["papers"]
    assert isinstance(papers, list)
    assert all(p["score"] is None and p["reason"] == "" for p in papers)
    listed = [p.title for p in day("2026-08-21.json")]
    assert [p["title"] for p in papers] == listed


@pytest.mark.parametrize(
    ("env", "loaded"),
    [({}, "[]"), ({"DIGEST_INTERESTS": "speech"}, "['digest.relevance'")],
)
@pytest.mark.slow
def test_the_relevance_model_loads_only_for_a_reader_with_interests(
    tmp_path: Path, env: dict[str, str], loaded: str
) -> None:
    import shutil
    import subprocess
    import sys

    from tests.processes import clean_env

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(REAL / "2026-08-21.json", inbox)
    code = (
        "import sys; from digest.cli import main; main(sys.argv[1:]);"
        " print([m for m in ('digest.relevance', 'wordllama', 'tokenizers') if m in sys.modules])"
    )
    args = ["now", "--inbox", str(inbox), "--state", str(tmp_path / "s.db"), "--deliver", "stdout"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "-q"],
        env=clean_env(**env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = done.stdout.strip().splitlines()[-1]
    assert found == loaded if loaded == "[]" else found.startswith(loaded)


@pytest.mark.slow
def test_each_reader_of_a_readers_file_gets_the_order_of_their_own_interests(
    tmp_path: Path,
) -> None:
    """Ann follows robots, Bob GUI agents, Carol nothing: one run, three orders."""
    import shutil

    from tests.mailserver import smtp_server
    from tests.test_pipeline_readers import ABS, by_reader, run

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(REAL / "2025-07-22.json", inbox)
    (tmp_path / "readers.toml").write_text(
        '[[reader]]\nemail = "ann@example.org"\nformat = "text"\ninterests = "robots"\n'
        '[[reader]]\nemail = "bob@example.org"\nformat = "text"\n'
        'interests = "clicking on screen elements of apps, GUI agents"\n'
        '[[reader]]\nemail = "carol@example.org"\nformat = "text"\n'
    )
    env = {
        "DIGEST_INBOX": str(inbox),
        "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
        "DIGEST_READERS": str(tmp_path / "readers.toml"),
        "DIGEST_FROM": "Papers <papers@example.org>",
        "DIGEST_DELIVER": "smtp",
    }
    with smtp_server() as server:
        env.update(server.environment())
        done = run(tmp_path, env, "now")
        assert done.returncode == 0, done.stderr
        got = by_reader(server.received)

    def first(email: str) -> tuple[str, str]:
        text = got[email][0].message.get_body(("plain",)).get_content()
        return ABS.findall(text.encode())[0].decode(), text

    assert first("ann@example.org")[0] == "2507.15493"  # GR-3, a robot, listed sixth
    assert first("bob@example.org")[0] == "2507.15846"  # GUI-G^2, listed second
    assert first("carol@example.org")[0] == "2507.14683"  # the listing's first


def _first_day(tmp_path: Path) -> list[str]:
    """A digest of one real day made, so that its papers can be liked: the next run's args."""
    import shutil

    from tests.processes import run_digest

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(REAL / "2025-07-22.json", inbox)
    args = ["--inbox", str(inbox), "--deliver", "stdout", "--format", "json"]
    assert run_digest(tmp_path, "now", *args).returncode == 0
    shutil.copy(REAL / "2026-08-21.json", inbox)
    return args


@pytest.mark.slow
def test_digest_like_and_dislike_rank_the_next_digests(tmp_path: Path) -> None:
    import json

    from tests.processes import run_digest

    args = _first_day(tmp_path)
    liked = run_digest(tmp_path, "like", "2507.15493")  # GR-3, a robot, by its arXiv id
    assert (liked.returncode, liked.stdout) == (0, "liked 6: GR-3 Technical Report\n")
    bad = run_digest(tmp_path, "dislike", "99999")
    assert bad.returncode == 1
    assert bad.stderr == "digest: no paper seen before has the id '99999'; see `digest seen`\n"
    done = run_digest(tmp_path, "now", *args)
    assert done.returncode == 0, done.stderr
    papers = json.loads(done.stdout)["papers"]
    assert papers[0]["title"].startswith("EXIMO")  # a robot policy; listed fifth
    assert papers[0]["reason"] == "like: GR-3 Technical Report"
    assert [p["title"] for p in papers] != [p.title for p in day("2026-08-21.json")]


@pytest.mark.slow
def test_a_like_taken_back_no_longer_ranks(tmp_path: Path) -> None:
    import json

    from tests.processes import run_digest

    args = _first_day(tmp_path)
    assert run_digest(tmp_path, "dislike", "6").returncode == 0
    forgot = run_digest(tmp_path, "dislike", "6", "--forget")
    assert forgot.stdout == "forgot the like of 6: GR-3 Technical Report\n"
    papers = json.loads(run_digest(tmp_path, "now", *args).stdout)["papers"]
    assert [p["title"] for p in papers] == [p.title for p in day("2026-08-21.json")]
    assert all(p["score"] is None for p in papers)


@pytest.mark.slow
def test_a_run_weighs_words_by_every_paper_seen_not_its_own_alone(tmp_path: Path) -> None:
    """ "reasoning" is in 2 of the 17 papers of the last day, and in a third of the 147 seen
    before it: a word that most papers share, never a reason; nor is "vision" (1 and 19)."""
    earlier = sorted(p.name for p in REAL.glob("*.json") if p.name != "2026-08-21.json")
    _now_json(tmp_path, *earlier)
    interests = "reasoning, vision, robot policies"
    shown = _now_json(tmp_path, "2026-08-21.json", DIGEST_INTERESTS=interests)
    papers = shown["papers"]
    assert isinstance(papers, list) and len(papers) == 17
    said = [p for p in papers if "reasoning" in (p["title"] + p["abstract"]).lower()]
    assert said  # the word is there to be named
    reasons = [p["reason"] for p in papers if p["reason"]]
    assert reasons and all("reasoning" not in r and "vision" not in r for r in reasons)
    assert papers[0]["title"].startswith("EXIMO")  # robot policies
    # Only the papers with a distinctive word of the interests are matches, not every paper.
    assert len(reasons) < len(papers) // 2


@pytest.mark.slow
def test_papers_recorded_as_a_backlog_weigh_words_too(tmp_path: Path) -> None:
    """The earlier days ingested as seen at once (offered to nobody): their words count as
    those of any paper seen."""
    from tests.processes import run_digest

    earlier = sorted(p for p in REAL.glob("*.json") if p.name != "2026-08-21.json")
    done = run_digest(tmp_path, "ingest", *map(str, earlier), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    shown = _now_json(tmp_path, "2026-08-21.json", DIGEST_INTERESTS="reasoning, vision, robots")
    papers = shown["papers"]
    assert isinstance(papers, list) and len(papers) == 17
    reasons = [p["reason"] for p in papers if p["reason"]]
    assert reasons and all("reasoning" not in r and "vision" not in r for r in reasons)
