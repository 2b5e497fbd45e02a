"""Rendering: golden files for every format, escaping, the JSON contract, user templates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.models import Digest, Dump, Paper, Rejected, SeenPaper, Skip
from digest.render import FORMATS, Renderer, render, subject, summary, template_failure
from digest.render.views import md_block, md_escape

WHEN = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


def sample() -> Digest:
    papers = (
        Paper(
            "Mix-LN: Unleashing the Power of Deeper Layers by Combining Pre-LN and Post-LN",
            "Large Language Models (LLMs) have achieved remarkable success, yet recent findings "
            "reveal that their deeper layers often contribute minimally and can be pruned "
            "without affecting overall performance.",
            source="001.txt",
            listing_date="Mar 12",
        ),
        Paper(
            "<script>alert(1)</script> *Bold* [link](http://x) # not a heading",
            "An abstract with <b>tags</b>, {{ jinja }} and {% raw %} & ampersands.",
            source="002.txt",
            listing_date="Mar 12",
        ),
    )
    old = SeenPaper(3, "Old", WHEN, "000.txt")
    dump = Dump("001.txt", "ab" * 32, papers[:1], "Mar 12")
    dump2 = Dump("002.txt", "cd" * 32, (papers[1], Paper("Old", "x", "002.txt")), "Mar 12")
    return Digest(
        papers=papers,
        skipped=(Skip(Paper("Old", "x", "002.txt"), old, "same title"),),
        rejected=(Rejected("broken.txt", "not a listing: binary content"),),
        dumps=(dump, dump2),
        created=WHEN,
    )


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("html", "digest.html"),
        ("text", "digest.txt"),
        ("markdown", "digest.md"),
        ("json", "digest.json"),
    ],
)
def test_golden(fmt: str, name: str, golden: Any) -> None:
    golden(name, render(sample(), fmt))


def test_summary_and_subject() -> None:
    assert summary(sample()) == "2 new papers of 3 in 2 dumps; 1 seen before"
    assert subject(sample()) == "Daily papers: 2 new (Wed 12 Mar 2025)"


def test_html_is_escaped() -> None:
    html = render(sample(), "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;tags&lt;/b&gt;" in html
    assert "{{ jinja }}" in html  # template syntax in data stays literal


def test_text_is_not_escaped_and_fits_72_columns() -> None:
    text = render(sample(), "text")
    assert "<script>alert(1)</script>" in text
    assert "&lt;" not in text
    long_lines = [line for line in text.splitlines() if len(line) > 72 and "://" not in line]
    assert long_lines == []


def test_markdown_escapes_specials_in_titles() -> None:
    md = render(sample(), "markdown")
    assert "## 2. &lt;script&gt;alert(1)&lt;/script&gt; \\*Bold\\* \\[link\\](http://x) # not" in md
    assert "<script>" not in md and "\\<" not in md


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain words", "plain words"),
        ("*a* _b_ `c`", "\\*a\\* \\_b\\_ \\`c\\`"),
        ("snake_case stays", "snake_case stays"),
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("a | b", "a &#124; b"),
        ("<b>", "&lt;b&gt;"),
        ("~x~", "&#126;x&#126;"),
    ],
)
def test_md_block(raw: str, escaped: str) -> None:
    assert md_block(raw) == escaped


def test_md_escape_leaves_line_starts_alone_inside_a_line() -> None:
    assert md_escape("001.txt") == "001.txt"
    assert md_escape("# x") == "# x"


def test_json_contract() -> None:
    data = json.loads(render(sample(), "json"))
    assert {"papers", "rejected", "stats", "skipped"} <= data.keys()
    assert {"title", "abstract", "source"} <= data["papers"][0].keys()
    assert data["rejected"] == [{"file": "broken.txt", "reason": "not a listing: binary content"}]
    assert data["stats"]["new"] == 2 and data["stats"]["seen_before"] == 1
    assert data["skipped"][0]["matched"]["first_dump"] == "000.txt"


def test_empty_digest_says_nothing_new() -> None:
    empty = Digest(papers=(), created=WHEN)
    for fmt in ("html", "text", "markdown"):
        assert "Nothing new" in render(empty, fmt)


def test_user_templates_override_one_format(tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text("{{ stats.new }} new: {{ papers[0].title }}\n")
    assert render(sample(), "text", tmp_path).startswith("2 new: Mix-LN")
    assert "<table" in render(sample(), "html", tmp_path)  # the others stay built in


def test_the_stats_are_counted_once_and_follow_a_changed_digest() -> None:
    import dataclasses

    digest = sample()
    assert digest.stats is digest.stats
    fewer = dataclasses.replace(digest, papers=digest.papers[:1])
    assert fewer.stats.new == 1 and digest.stats.new == len(digest.papers)


def test_a_renderer_makes_each_format_once_from_one_view_of_each_paper() -> None:
    renderer = Renderer(sample(), subject="Papers: {count}")
    for fmt in FORMATS:
        assert (
            renderer.render(fmt)
            == renderer.render(fmt)
            == render(sample(), fmt, None, "Papers: {count}")
        )
    assert dict(renderer.renders) == dict.fromkeys(FORMATS, 1)
    shown = json.loads(renderer.render("json"))["papers"]
    assert shown == renderer.view.papers  # the JSON output is the views the templates show


def test_every_format_has_one_entry_with_its_extension() -> None:
    assert {f.name: f.extension for f in FORMATS.values()} == {
        "html": "html",
        "text": "txt",
        "markdown": "md",
        "json": "json",
    }
    assert all((f.template is None) != (f.make is None) for f in FORMATS.values())


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "access to attribute '__class__'"),
        ("{% for i in range(10**9) %}x{% endfor %}", "Range too big"),
    ],
)
def test_a_user_template_reaches_no_internals_and_cannot_hang(
    tmp_path: Path, template: str, says: str
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt.j2").write_text(template, encoding="utf-8")
    with pytest.raises(Exception) as e:
        render(sample(), "text", tmp_path / "mine")
    failure = template_failure(e.value)
    assert failure is not None
    assert "digest.txt.j2, line 1" in str(failure) and says in str(failure)


def test_a_user_template_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    from tests.conftest import SEEDS
    from tests.processes import clean_env

    (tmp_path / "inbox").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt.j2").write_bytes(b"\xff\xfe{{ x }}")
    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", tmp_path / "inbox")
    result = subprocess.run(
        [sys.executable, "-m", "digest", "now", "--inbox", "inbox", "--state", "s.sqlite3"],
        capture_output=True,
        text=True,
        env=clean_env(DIGEST_TEMPLATES="mine"),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "template mine/digest.txt.j2 is not UTF-8 text" in line


@pytest.mark.slow
def test_templates_are_compiled_once_and_an_edited_one_again(tmp_path: Path) -> None:
    """Runs keep the templates compiled in a folder of the user's own in the temporary
    directory; a template edited since is compiled again, never taken from before."""
    import os
    import shutil
    import subprocess
    import sys

    from tests.conftest import SEEDS
    from tests.processes import clean_env

    (tmp_path / "inbox").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "tmp").mkdir()
    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", tmp_path / "inbox")
    cache = tmp_path / "tmp" / f"_jinja2-cache-{os.getuid()}"

    def text(template: str) -> str:
        (tmp_path / "mine" / "digest.txt.j2").write_text(template, encoding="utf-8")
        command = ["now", "--inbox", "inbox", "--deliver", "stdout", "--format", "text"]
        result = subprocess.run(
            [sys.executable, "-m", "digest", *command, "--dry-run", "-q"],
            capture_output=True,
            text=True,
            env=clean_env(DIGEST_TEMPLATES="mine", TMPDIR=str(tmp_path / "tmp")),
            cwd=tmp_path,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert text("first: {{ stats.new }} new\n") == "first: 74 new\n"
    compiled = sorted(cache.iterdir())
    assert compiled and (cache.stat().st_mode & 0o777) == 0o700
    assert text("again: {{ stats.new }} new\n") == "again: 74 new\n"
