"""How a digest reads, measured on real listings, for this code tree and another (a baseline):
the visible text's share of the mail's HTML, the HTML's size as sent, how many papers get a
TL;DR, a full abstract, a cut abstract or a title alone, the SpamAssassin score, and (with
Chromium) the worst text contrast per mode and the smallest tap target.

Each case is one `digest now` (files delivery, which writes the mail as .eml) of the tree's
own `python -m digest`, on a fresh state:

    python benchmarks/reading.py [--baseline /tmp/base-reading] [--browser]
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"
SEEDS = ROOT / "seeds"


def cases() -> dict[str, list[Path]]:
    """Named inboxes: each seed alone (a text listing, 56 to 80 papers), the seeds at once (a
    big first run), each real JSON day alone, and the ten days at once."""
    seeds = sorted(SEEDS.glob("*.txt"))
    days = sorted(REAL.glob("*.json"))
    out: dict[str, list[Path]] = {f"seed {p.name[:3]}": [p] for p in seeds}
    out["5 seeds at once"] = seeds
    out.update({f"day {p.stem}": [p] for p in days})
    out["10 days at once"] = days
    return out


def mail_of(tree: Path, files: list[Path], work: Path) -> bytes:
    """The .eml that `digest now` of `tree` writes for an inbox of `files`."""
    inbox, out = work / "inbox", work / "out"
    inbox.mkdir(parents=True)
    for f in files:
        shutil.copy(f, inbox / f.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONPATH"] = str(tree)
    env["XDG_DATA_HOME"] = str(work / "xdg")
    # A mail as a reader gets it: a sender, a recipient, an unsubscribe address.
    env["DIGEST_FROM"] = "Daily Papers <papers@example.org>"
    env["DIGEST_TO"] = "Ann Reader <ann@example.org>"
    env["DIGEST_UNSUBSCRIBE"] = "mailto:papers-unsubscribe@example.org"
    command = f"{sys.executable} -m digest now --deliver files".split()
    command += ["--inbox", str(inbox), "--state", str(work / "s.sqlite3"), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=work, timeout=300)
    (eml,) = out.glob("*.eml")
    return eml.read_bytes()


def html_part(eml: bytes) -> tuple[str, int]:
    """The HTML part and its size as sent (quoted-printable, CRLF)."""
    msg = message_from_bytes(eml, policy=policy.default)
    part = msg.get_body(preferencelist=("html",))
    markup = part.get_content()  # type: ignore[union-attr]
    return markup, len(part.get_payload().encode())  # type: ignore[union-attr]


def visible_share(markup: str) -> float:
    """Visible text (tags, the head and the hidden preheader removed) over the HTML, bytes."""
    body = markup.split("<body", 1)[1]
    body = re.sub(r'<div class="preheader".*?</div>', " ", body, flags=re.S)
    body = re.sub(r"<!--.*?-->", " ", body, flags=re.S)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return len(text.encode()) / len(markup.encode())


def budget(markup: str) -> dict[str, int]:
    """Papers by what the HTML shows of them."""
    cut = len(re.findall(r'class="cut"', markup))
    return {
        "tldr": len(re.findall(r'<p class="tldr"', markup)),
        "full": len(re.findall(r'<p class="abstract"', markup))
        - cut
        - ("Nothing new today" in markup),
        "cut": cut,
        "title": len(re.findall(r'class="crow"', markup))
        + len(re.findall(r'<p style="margin:0 0 8px(?:;?)">\d+\. <a', markup)),
    }


def spam_score(eml: bytes, home: Path) -> str | None:
    """SpamAssassin's score (local tests only), with the rules that scored."""
    tool = shutil.which("spamassassin")
    if not tool:
        return None
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [tool, "-t", "-L"], input=eml, capture_output=True, check=True, env=env, timeout=120
    ).stdout.decode(errors="replace")
    found = re.search(r"score=(-?[\d.]+)", out)
    rules = re.findall(r"^\s*(-?\d+\.\d) (\w+)", out.split("Content analysis details", 1)[-1], re.M)
    scored = ",".join(name for points, name in rules if float(points) != 0)
    return (found.group(1) if found else "?") + (f" ({scored})" if scored else "")


def browser_figures(pages: dict[str, str]) -> dict[str, dict[str, float]]:
    """Worst contrast per mode and smallest tap target, at 375 px, for each page."""
    sys.path.insert(0, str(ROOT / "tests"))
    from playwright.sync_api import sync_playwright

    from tests.render.test_browser import CHROMIUM, FLAGS, MEASURE, MODES

    args = FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    out: dict[str, dict[str, float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        for name, markup in pages.items():
            figures: dict[str, float] = {}
            for mode, options in MODES.items():
                for width in (600, 375):
                    context = browser.new_context(
                        viewport={"width": width, "height": 900}, **options
                    )
                    page = context.new_page()
                    page.set_content(markup, wait_until="load")
                    got = page.evaluate(MEASURE)
                    context.close()
                    worst = min(t["ratio"] for t in got["texts"])
                    figures[mode] = min(figures.get(mode, 99.0), worst)
                    smallest = min((min(a["width"], a["height"]) for a in got["links"]), default=0)
                    figures["tap"] = min(figures.get("tap", 999.0), smallest)
                    if got["scrollWidth"] > got["innerWidth"]:
                        figures["overflow"] = 1
            out[name] = figures
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another code tree, measured the same way")
    parser.add_argument("--browser", action="store_true", help="also measure in Chromium")
    parser.add_argument("--spam", action="store_true", help="also score with SpamAssassin")
    args = parser.parse_args()
    trees = {"this": ROOT} | ({"base": args.baseline} if args.baseline else {})
    rows = []
    pages: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case, files in cases().items():
            row = [case]
            for label, tree in trees.items():
                work = Path(tmp) / f"{label}-{len(rows)}"
                eml = mail_of(tree, files, work)
                markup, size = html_part(eml)
                b = budget(markup)
                spam = spam_score(eml, work) if args.spam else None
                pages[f"{case} ({label})"] = markup
                row.append(
                    f"{visible_share(markup):.0%} {size / 1000:.1f}KB "
                    f"tldr {b['tldr']} full {b['full']} cut {b['cut']} title {b['title']}"
                    + (f" spam {spam}" if spam is not None else "")
                )
            rows.append(row)
        print("| case | " + " | ".join(trees) + " |")
        print("|---" * (len(trees) + 1) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        if args.browser:
            chosen = {
                k: v
                for k, v in pages.items()
                if k.startswith(("seed 003", "5 seeds", "day 2025-12-10", "10 days"))
            }
            for name, figures in browser_figures(chosen).items():
                shown = ", ".join(f"{k} {v:.2f}" for k, v in figures.items())
                print(f"{name}: {shown}")


if __name__ == "__main__":
    main()
