"""The mail's HTML in a real browser: Debian's Chromium, driven by Playwright, renders it at
600 and 375 px in light, dark and forced-dark mode. No horizontal overflow, every text at
least 4.5:1 against its background, tap targets at least 44 by 44 px, every paper's title
and TL;DR visible, the reader's highlights marked by more than a background. Screenshots are
written to test-output/browser/ for a person to look at.

Forced dark is emulated the way Playwright can: the dark colour scheme with forced colours
active, as dark high-contrast modes force their own colours on a page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest import formats
from digest.identity.decide import decide
from digest.interests import Interests, select
from digest.models import Digest
from digest.patterns import terms
from digest.render import Renderer, mail
from digest.render.tex import unicode

ROOT = Path(__file__).resolve().parent.parent.parent
OUTPUT = ROOT / "test-output" / "browser"
CHROMIUM = next(
    (
        p
        for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium")
        if p and Path(p).is_file()
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found (install Debian's chromium package)"
)
# What Chromium is run with: no downloads, no network of its own, no GPU.
FLAGS = [
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MODES = {
    "light": {"color_scheme": "light"},
    "dark": {"color_scheme": "dark"},
    "forced-dark": {"color_scheme": "dark", "forced_colors": "active"},
}
WIDTHS = (600, 375)
CREATED = datetime(2025, 12, 10, 8, 0, tzinfo=UTC)

# Every element with text of its own, its colour and the first opaque background behind it;
# the links' boxes; the page's width.
MEASURE = """
() => {
  const rgba = (s) => { const m = s.match(/[\\d.]+/g) || []; return m.map(Number); };
  const lum = ([r, g, b]) => {
    const f = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];  // the canvas of a page with no background of its own
  };
  const texts = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.preheader')) continue;
    const own = [...el.childNodes]
      .filter(n => n.nodeType === 3 && n.textContent.trim())
      .map(n => n.textContent.trim()).join(' ');
    if (!own) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const fg = rgba(getComputedStyle(el).color), bg = background(el);
    const [a, b] = [lum(fg) + 0.05, lum(bg) + 0.05];
    const ratio = Math.max(a, b) / Math.min(a, b);
    texts.push({tag: el.tagName, cls: el.className, text: own.slice(0, 60), ratio});
  }
  const links = [...document.querySelectorAll('a')].filter(a => !a.closest('.preheader')).map(a => {
    const r = a.getBoundingClientRect();
    return {text: a.innerText.trim().slice(0, 40), width: r.width, height: r.height};
  });
  const marks = [...document.querySelectorAll('.hl')].map(m => {
    const s = getComputedStyle(m);
    return {
      weight: Number(s.fontWeight),
      border: s.borderBottomStyle,
      width: parseFloat(s.borderBottomWidth),
    };
  });
  return {
    texts, links, marks,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    text: document.body.innerText,
    height: document.documentElement.scrollHeight,
  };
}
"""


def day_digest() -> tuple[Digest, Renderer]:
    """A real day for a reader with interests: highlights, a reason, scores."""
    path = ROOT / "tests" / "fixtures" / "real" / "2025-12-10.json"
    dump = formats.parse(path.read_bytes(), path.name)
    wants = Interests(terms("video, reasoning, diffusion", "H"), (), "highlights", 0)
    chosen = select(dump.papers, wants)
    liked = chosen.full[-1]
    digest = Digest(
        papers=chosen.full,
        highlights=chosen.highlights,
        highlight=wants.highlight,
        reasons={liked: "like: Wan-Move: Motion-controllable Video Generation"},
        dumps=(dump,),
        created=CREATED,
    )
    return digest, Renderer(digest)


def seeds_digest() -> tuple[Digest, Renderer]:
    """The five seeds at once: a big first run, more than the mail can show whole."""
    dumps = tuple(
        formats.parse(p.read_bytes(), p.name) for p in sorted((ROOT / "seeds").glob("*.txt"))
    )
    decision = decide([p for d in dumps for p in d.papers], {})
    digest = Digest(decision.new, decision.skipped, dumps=dumps, created=CREATED)
    return digest, Renderer(digest)


DIGESTS = {"day": day_digest, "seeds": seeds_digest}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    args = FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def composed() -> dict[str, tuple[Digest, Renderer, mail.Composed]]:
    out = {}
    for name, make in DIGESTS.items():
        digest, renderer = make()
        made = mail.compose(renderer, mail.MailOptions(), "<1@example.org>")
        out[name] = (digest, renderer, made)
    return out


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(DIGESTS))
def test_the_mail_reads_well_in_chromium(
    browser: Any,
    composed: dict[str, tuple[Digest, Renderer, mail.Composed]],
    name: str,
    width: int,
    mode: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest, renderer, made = composed[name]
    context = browser.new_context(viewport={"width": width, "height": 900}, **MODES[mode])
    try:
        page = context.new_page()
        page.set_content(made.html, wait_until="load")
        got = page.evaluate(MEASURE)
        OUTPUT.mkdir(parents=True, exist_ok=True)
        shot = OUTPUT / f"{name}-{width}-{mode}.png"
        page.screenshot(path=str(shot), full_page=got["height"] <= 16000)
    finally:
        context.close()
    with capsys.disabled():
        print(f"\n  screenshot: {shot}")

    assert got["scrollWidth"] <= got["innerWidth"], "the page scrolls sideways"
    worst = min(got["texts"], key=lambda t: t["ratio"])
    assert worst["ratio"] >= 4.5, worst
    small = [link for link in got["links"] if link["width"] < 44 or link["height"] < 44]
    assert not small, small[:5]
    shown = words(got["text"])
    view = renderer.view
    views = (view.order if view.brief else view.papers)[: made.layout.full + made.layout.short]
    assert views
    for view in views:
        assert words(unicode(view["title"])) in shown
        assert words(unicode(view["tldr"])).rstrip("…")[:80] in shown
    if digest.highlight:
        assert got["marks"], "no highlight was drawn"
        for m in got["marks"]:  # bold and underlined, whatever the colours
            assert m["weight"] >= 700 and m["border"] == "solid" and m["width"] >= 1, m


SCREEN = 667  # px: a phone's screen at 375 px wide (an iPhone SE, the smallest in use)
REAL_DAYS = sorted((ROOT / "tests" / "fixtures" / "real").glob("*.json"))


def screens(browser: Any, html: str, width: int = 375) -> float:
    """How many phone screens the page is long at `width`."""
    context = browser.new_context(viewport={"width": width, "height": SCREEN})
    try:
        page = context.new_page()
        page.set_content(html, wait_until="load")
        height: int = page.evaluate("document.documentElement.scrollHeight")
    finally:
        context.close()
    return height / SCREEN


@pytest.mark.slow
def test_a_real_day_reads_in_a_few_phone_screens_and_the_seeds_in_fifteen(
    browser: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The compact digest (the default) of each real day at most 6 screens at 375 px and
    150 lines of text part; the five seeds at once at most 15 screens."""
    figures = {}
    for path in REAL_DAYS:
        dump = formats.parse(path.read_bytes(), path.name)
        digest = Digest(dump.papers, dumps=(dump,), created=CREATED)
        made = mail.compose(Renderer(digest), mail.MailOptions(), "<1@example.org>")
        figures[path.stem] = (len(dump.papers), screens(browser, made.html), made.text)
    _, renderer = seeds_digest()
    made = mail.compose(renderer, mail.MailOptions(), "<1@example.org>")
    seeds = screens(browser, made.html)
    with capsys.disabled():
        for name, (count, high, text) in figures.items():
            lines = len(text.splitlines())
            print(f"\n  {name}: {count} papers, {high:.1f} screens, {lines} text lines")
        print(f"\n  5 seeds at once: {seeds:.1f} screens, {len(made.text.splitlines())} lines")
    assert max(count for count, _, _ in figures.values()) >= 19  # a full day is among them
    for name, (_, high, text) in figures.items():
        assert high <= 6 and len(text.splitlines()) <= 150, name
    assert seeds <= 15
