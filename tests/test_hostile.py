"""Content built to attack readers: it shows as text in every format, never as markup, never
as a header, and template syntax in it stays literal. Delivered for real, over SMTP."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from mailserver import smtp_server

from digest.cli import main

ABSTRACT = "An abstract long enough to count as one, about safety and escaping. " * 4
HOSTILE_TITLES = [
    "<script>alert('x')</script><img src=x onerror=alert(1)> Attention",
    "{{ 7*7 }} and {% for x in range(3) %}loop{% endfor %} Templates",
    "# Heading? *bold* _em_ [click](javascript:alert(1)) ![i](http://x/i.png) | table |",
    "Bcc: victim@example.org\r\nSubject: injected",
    "Bidi \u202eevil\u202c override and \x1b[31mANSI\x1b[0m and \x07bell",
    "Emoji 🧠🔥 and right-to-left \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "Long " + "Transformer " * 400,
]
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


def test_hostile_content_in_every_format_and_in_the_mail(
    inbox: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = "\n\n".join(f"{t}\n\n{ABSTRACT} {t}" for t in HOSTILE_TITLES)
    (inbox / "evil <b>name&lt;\x1b.txt").write_text("Daily Papers\n\n" + blocks + "\n")
    out = tmp_path / "out"
    with smtp_server() as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DIGEST_FROM", "Papers <papers@example.org>")
        monkeypatch.setenv("DIGEST_TO", "Ann <ann@example.org>")
        assert main(["now", "--inbox", str(inbox), "--state", str(tmp_path / "s.db")]) == 0
        monkeypatch.setenv("DIGEST_DELIVER", "files")
        assert (
            main(
                ["now", "--inbox", str(inbox), "--state", str(tmp_path / "f.db"), "--out", str(out)]
            )
            == 0
        )
    capsys.readouterr()
    [received] = server.received
    message = received.message
    assert received.recipients == ["ann@example.org"]  # no Bcc smuggled in
    assert message["Subject"] == "Daily papers: 7 new (" + message["Subject"].split("(")[1]
    assert message["Bcc"] is None and "injected" not in str(message["Subject"])
    for line in received.data.split(b"\r\n"):
        assert len(line) <= 78

    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert isinstance(html_part, EmailMessage) and isinstance(text_part, EmailMessage)
    files = {p.suffix: p.read_text() for p in out.iterdir()}
    for html in (html_part.get_content(), files[".html"]):
        parsed = Tags()
        parsed.feed(html)
        assert not {"script", "img"} & parsed.tags and parsed.handlers == []
        assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript""", html, re.I)
        assert "{{ 7*7 }} and {% for x in range(3) %}loop{% endfor %}" in html
        assert not CONTROL.search(html)
    for text in (text_part.get_content(), files[".txt"]):
        assert "{{ 7*7 }}" in text and not CONTROL.search(text)
    md = files[".md"]
    assert "{{ 7\\*7 }}" in md and not CONTROL.search(md)  # shows as {{ 7*7 }}
    assert "\\[click\\](javascript:alert(1))" in md and "\\<script\\>" in md
    assert not re.search(r"^#+ .*\[click\]\(", md, re.M)
    data = json.loads(files[".json"])
    assert {p["title"].split()[0] for p in data["papers"]} >= {"<script>alert('x')</script><img"}
    assert all(not CONTROL.search(p["title"]) for p in data["papers"])
    assert all(p["source"] == "evil <b>name&lt;\\x1b.txt" for p in data["papers"])
