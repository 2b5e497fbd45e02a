"""Formats through the whole `digest now` path: one paper across text, JSON and saved pages,
never shown twice; richer fields delivered; the reader's exclusions recorded as seen."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from digest.cli import main
from digest.state import open as open_state

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED_000 = Path(__file__).resolve().parent.parent.parent / "seeds" / "000_47ca144c9a573f93.txt"
# In the text seed and in the JSON fixtures of other days, under the same title.
SHARED = (
    "Forward Learning of Graph Neural Networks",
    "NoProp: Training Neural Networks without Back-propagation or Forward-propagation",
)


def now(capsys: pytest.CaptureFixture[str], inbox: Path, tmp: Path, *more: str) -> dict:  # type: ignore[type-arg]
    code = main(
        [
            "now",
            "--inbox",
            str(inbox),
            "--state",
            str(tmp / "state.sqlite3"),
            "--deliver",
            "stdout",
            "--format",
            "json",
            *more,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)  # | jq gets a document, also when nothing is new


def nothing_new(digest: dict) -> bool:  # type: ignore[type-arg]
    return digest["papers"] == [] and digest["stats"]["new"] == 0


def titles(digest: dict) -> list[str]:  # type: ignore[type-arg]
    return [p["title"] for p in digest.get("papers", []) + digest.get("more", [])]


def test_a_paper_first_met_in_text_is_not_shown_again_from_json(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path
) -> None:
    shutil.copy(SEED_000, inbox)
    first = now(capsys, inbox, tmp_path)
    assert set(SHARED) <= set(titles(first))

    shutil.copy(FIXTURES / "daily_papers_2024.json", inbox)
    shutil.copy(FIXTURES / "daily_papers_2025.json", inbox)
    second = now(capsys, inbox, tmp_path)
    assert not set(SHARED) & set(titles(second))
    assert any(t.startswith("DeepSeek-R1: Incentivizing") for t in titles(second))
    assert second["stats"]["seen_before"] == 2

    # The saved page of a day whose JSON was read: NoProp and SmolLM2 again, Mix-LN new.
    shutil.copy(FIXTURES / "daily_papers_page.html", inbox)
    third = now(capsys, inbox, tmp_path)
    assert titles(third) == [
        "Mix-LN: Unleashing the Power of Deeper Layers by Combining Pre-LN and Post-LN"
    ]


def test_text_and_json_of_the_same_day_in_one_run_show_the_paper_once_with_its_links(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path
) -> None:
    shutil.copy(SEED_000, inbox / "a-day.txt")  # read first: named first
    shutil.copy(FIXTURES / "daily_papers_2025.json", inbox / "b-day.json")
    digest = now(capsys, inbox, tmp_path)
    shown = [p for p in digest["papers"] if p["title"] == SHARED[1]]
    assert len(shown) == 1
    (noprop,) = shown
    assert noprop["source"] == "a-day.txt"
    assert noprop["page_url"] == "https://huggingface.co/papers/2503.24322"
    assert noprop["arxiv_url"] == "https://arxiv.org/abs/2503.24322"
    assert noprop["upvotes"] == 57
    assert noprop["authors_short"] == "Q. Li, Y. W. Teh, R. Pascanu"
    assert digest["stats"]["repeated"] == 1


def _api(paper_id: str, title: str) -> list[dict[str, object]]:
    return [{"paper": {"id": paper_id, "title": title, "summary": "An abstract.", "upvotes": 2}}]


def test_a_paper_retitled_between_json_dumps_is_one_paper(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path
) -> None:
    (inbox / "1.json").write_text(json.dumps(_api("2501.00001", "A First Title")))
    assert titles(now(capsys, inbox, tmp_path)) == ["A First Title"]
    (inbox / "2.json").write_text(json.dumps(_api("2501.00001v2", "A Better Title")))
    assert nothing_new(now(capsys, inbox, tmp_path))  # nothing new: not delivered


def test_an_arxiv_id_learnt_after_a_text_dump_still_identifies_the_paper(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path
) -> None:
    (inbox / "1.txt").write_text("Mar 3\n\nA Text Title\n\n" + "An abstract. " * 20)
    now(capsys, inbox, tmp_path)
    (inbox / "2.json").write_text(json.dumps(_api("2501.00001", "A Text Title")))
    assert nothing_new(now(capsys, inbox, tmp_path))
    (inbox / "3.json").write_text(json.dumps(_api("2501.00001v3", "Retitled Later")))
    assert nothing_new(now(capsys, inbox, tmp_path))


def test_excluded_papers_are_left_out_counted_and_recorded_as_seen(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path
) -> None:
    shutil.copy(FIXTURES / "daily_papers_2025.json", inbox)
    digest = now(capsys, inbox, tmp_path, "--exclude", "reinforcement learning")
    assert [p["title"][:6] for p in digest["papers"]] == ["NoProp", "SmolLM"]
    assert [p["title"][:8] for p in digest["excluded"]] == ["DeepSeek"]
    assert digest["stats"]["excluded"] == 1

    with open_state(tmp_path / "state.sqlite3") as store:
        assert store.counts()["papers_seen"] == 3

    # Listed again another day, with no exclusions set: still not offered.
    shutil.copy(FIXTURES / "daily_papers_2025.json", inbox / "again.json")
    (inbox / "again.json").write_text((inbox / "again.json").read_text() + "\n")
    assert nothing_new(now(capsys, inbox, tmp_path))


def test_everything_excluded_delivers_nothing_but_records_it(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path
) -> None:
    shutil.copy(FIXTURES / "daily_papers_2023.json", inbox)
    assert nothing_new(now(capsys, inbox, tmp_path, "--exclude", "."))
    with open_state(tmp_path / "state.sqlite3") as store:
        assert store.counts()["papers_seen"] == 3


def test_highlights_order_and_cap_through_the_environment(
    capsys: pytest.CaptureFixture[str],
    inbox: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copy(FIXTURES / "daily_papers_2025.json", inbox)
    monkeypatch.setenv("DIGEST_HIGHLIGHT", "smol\\w*")
    monkeypatch.setenv("DIGEST_MAX_PAPERS", "1")
    digest = now(capsys, inbox, tmp_path)
    assert [p["title"][:7] for p in digest["papers"]] == ["SmolLM2"]
    assert digest["papers"][0]["highlights"] == ["smol\\w*"]
    assert [p["title"][:6] for p in digest["more"]] == ["DeepSe", "NoProp"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DIGEST_HIGHLIGHT", "graph, (oops", "DIGEST_HIGHLIGHT: '(oops' is not a valid regular"),
        ("DIGEST_EXCLUDE", "[", "DIGEST_EXCLUDE: '[' is not a valid regular expression"),
        ("DIGEST_ORDER", "random", "DIGEST_ORDER='random' is not one of highlights, listing"),
        ("DIGEST_MAX_PAPERS", "-1", "DIGEST_MAX_PAPERS=-1 is out of range: use 0 to"),
        ("DIGEST_MAX_PAPERS", "ten", "DIGEST_MAX_PAPERS='ten' is not a whole number"),
    ],
)
def test_bad_interests_are_one_line_config_errors(
    capsys: pytest.CaptureFixture[str],
    inbox: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(name, value)
    code = main(["now", "--inbox", str(inbox)])
    _, err = capsys.readouterr()
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_check_names_each_format(capsys: pytest.CaptureFixture[str]) -> None:
    files = ["daily_papers_2024.json", "daily_papers_page.html"]
    code = main(["check", str(SEED_000), *(str(FIXTURES / f) for f in files)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "000_47ca144c9a573f93.txt: text dump" in out
    assert "daily_papers_2024.json: json dump, utf-8, 3 papers, Wed 28 Feb 2024" in out
    assert "warning: item 4: no paper id or title; skipped" in out
    assert "daily_papers_page.html: html dump, utf-8, 3 papers, Tue 1 Apr 2025" in out


def test_an_empty_api_response_is_read_and_delivers_nothing(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path
) -> None:
    (inbox / "weekend.json").write_text("[]")
    assert nothing_new(now(capsys, inbox, tmp_path))
    with open_state(tmp_path / "state.sqlite3") as store:
        assert store.counts()["dumps"] == 1
        assert store.rejected_dumps() == []
