"""TeX as Unicode, on the markup real listings carry: accents, escapes, inline math, emphasis."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest import formats
from digest.models import Digest, Paper
from digest.render import render
from digest.render.tex import detex, unicode

ROOT = Path(__file__).resolve().parent.parent.parent
REAL = sorted((ROOT / "tests" / "fixtures" / "real").glob("*.json"))
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


def real_papers() -> list[Paper]:
    return [p for path in REAL + SEEDS for p in formats.parse(path.read_bytes(), path.name).papers]


@pytest.mark.parametrize(
    ("tex", "text", "emphasis"),
    [
        # Each from a real listing (the seeds, or a day of tests/fixtures/real).
        (r"resulting in a 54.6\% speedup", "resulting in a 54.6% speedup", ()),
        (r"the Aya model (\"Ust\"un et al., 2024)", "the Aya model (Üstün et al., 2024)", ()),
        (r"we term \textsc{AIEV-Instruct} (Instruction", "we term AIEV-Instruct (Instruction", ()),
        (
            r"modes: {\em entropy collapse} in deeper",
            "modes: entropy collapse in deeper",
            ((7, 23),),
        ),
        (
            r"spent on {\emph compression} of the input",
            "spent on compression of the input",
            ((9, 20),),
        ),
        (r"a similar Embedding\&MLP paradigm", "a similar Embedding&MLP paradigm", ()),
        (r"Atari in {raise.17ex\scriptstyle\sim}4 hours", "Atari in ~4 hours", ()),
        (r"Poincar\'e ResNet and Fr\'echet means", "Poincaré ResNet and Fréchet means", ()),
        (r"constraints (\eg Eikonal loss)", "constraints (e.g. Eikonal loss)", ()),
        (r"we propose \tool, a general approach", "we propose tool, a general approach", ()),
        (
            r"https://github.com/Med-Process/Strip\_MLP.",
            "https://github.com/Med-Process/Strip_MLP.",
            (),
        ),
        (r"from O(d ell) na\"ively", "from O(d ell) naïvely", ()),
        ("with human rankings at just $4 per test", "with human rankings at just $4 per test", ()),
        # Inline math as arXiv abstracts write it.
        (r"a $\mu$-law", "a μ-law", ()),
        (r"$O(n^2)$ time, $x_{i}$ and $\alpha=0.5$", "O(n²) time, xᵢ and α=0.5", ()),
        (r"$\times 3$ faster, $\sim$10\%", "× 3 faster, ~10%", ()),
        (r"up to $10^{-3}$ and $\geq 90\%$", "up to 10⁻³ and ≥ 90%", ()),
        (r"\textbf{Bold} claims", "Bold claims", ((0, 4),)),
        ("costs $4 to $5 each", "costs $4 to $5 each", ()),  # prices, not math
        ("plain text, {{ braces }} and ~5 kept", "plain text, {{ braces }} and ~5 kept", ()),
    ],
)
def test_detex(tex: str, text: str, emphasis: tuple[tuple[int, int], ...]) -> None:
    out = detex(tex)
    assert (out.text, out.emphasis) == (text, emphasis)


def test_no_tex_is_left_in_any_real_title_or_abstract() -> None:
    papers = real_papers()
    touched = 0
    for p in papers:
        for field in (p.title, p.abstract):
            out = unicode(field)
            touched += out != field
            for left in ("\\%", "\\&", "\\'", '\\"', "\\em", "\\emph", "\\textsc", "$\\"):
                assert left not in out, (p.title, out)
            if "\\" not in field and "$" not in field and "**" not in field:
                assert out == field  # text without TeX is left alone
    assert touched >= 30  # the real days and seeds do carry TeX


def test_every_format_shows_tex_as_unicode_and_keeps_its_emphasis() -> None:
    tex = Paper(
        r"Poincar\'e ResNet: the $\mu$-law",
        r"Two failure modes: {\em entropy collapse} and 54.6\% more. We propose \textsc{X}.",
        arxiv_id="2306.14308",
    )
    digest = Digest(papers=(tex,), detail="full")  # the abstract shown too
    text, md, html = (render(digest, f) for f in ("text", "markdown", "html"))
    for out in (text, md, html):
        assert "Poincaré ResNet: the μ-law" in out and "54.6% more" in out
        assert "\\" not in out.replace("\\*", "").replace("\\_", "")
    assert "_entropy collapse_" in text
    assert "*entropy collapse*" in md
    assert "<em>entropy collapse</em>" in html


def test_markdown_bold_in_an_abstract_is_emphasis_not_stray_asterisks() -> None:
    # As a real listing has it (2503.11751): "We build **reWordBench**, which ..."
    bold = Paper(
        "reWordBench",
        "Reward models are brittle. We build **reWordBench**, which transforms inputs.",
        arxiv_id="2503.11751",
    )
    digest = Digest(papers=(bold,), detail="full")
    text, md, html = (render(digest, f) for f in ("text", "markdown", "html"))
    assert "<em>reWordBench</em>" in html and "**" not in html
    assert "_reWordBench_" in text and "*reWordBench*" in md
    assert detex("2**3 and a ** b").text == "2**3 and a ** b"  # not emphasis: left as written
