"""Mail each reader of a readers file the papers of the day's listings: the plain script.

    python benchmarks/plain_digest.py INBOX READERS.toml --host 127.0.0.1 --port 25

What one would write in an afternoon: every JSON listing of INBOX (the Hugging Face
daily_papers API's answer), each reader's highlight, exclude, max_papers, order and format,
a Jinja2 template, one SMTP connection for everyone. No state: everything is new every time.
"""

from __future__ import annotations

import argparse
import json
import re
import smtplib
import tomllib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment

TEXT = """{% for p in papers %}{{ p.title }}
{{ p.authors }}
{{ p.link }}

{{ p.abstract }}

{% endfor %}"""
HTML = """<html><body><h1>{{ subject }}</h1>{% for p in papers %}
<h2><a href="{{ p.link }}">{{ p.title }}</a></h2><p><i>{{ p.authors }}</i></p>
<p>{{ p.abstract }}</p>{% endfor %}</body></html>"""
jinja = Environment(autoescape=True)
text, html = jinja.from_string(TEXT), jinja.from_string(HTML)
Paper = dict[str, Any]


def load(inbox: str) -> list[Paper]:
    """Every paper of every listing in the folder."""
    papers = []
    for path in sorted(Path(inbox).glob("*.json")):
        for item in json.loads(path.read_text()):
            p = item["paper"]
            papers.append({
                "title": " ".join(p["title"].split()),
                "authors": ", ".join(a["name"] for a in p["authors"]),
                "link": f"https://huggingface.co/papers/{p['id']}",
                "abstract": " ".join(p["summary"].split()),
                "upvotes": p.get("upvotes", 0),
            })  # fmt: skip
    return papers


def terms(value: str | list[str] | None) -> list[re.Pattern[str]]:
    """Words (a list, or one string with commas) as patterns matching at a word's start."""
    words = value.split(",") if isinstance(value, str) else value or []
    return [re.compile(rf"\b{re.escape(w.strip())}", re.I) for w in words if w.strip()]


def matches(paper: Paper, patterns: list[re.Pattern[str]]) -> bool:
    """Whether the title or the abstract has one of the words."""
    return any(p.search(paper["title"]) or p.search(paper["abstract"]) for p in patterns)


def message(reader: dict[str, Any], papers: list[Paper], sender: str) -> EmailMessage:
    """The reader's mail: their papers, in their order and format."""
    highlight, exclude = terms(reader.get("highlight")), terms(reader.get("exclude"))
    chosen = [p for p in papers if not matches(p, exclude)]
    order = reader.get("order", "highlights")
    if order == "upvotes":
        chosen.sort(key=lambda p: -p["upvotes"])
    elif order == "highlights":
        chosen.sort(key=lambda p: not matches(p, highlight))
    chosen = chosen[: reader.get("max_papers") or None]
    subject = f"Daily papers: {len(chosen)} new"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, reader["email"], subject
    msg["Date"], msg["Message-ID"] = formatdate(), make_msgid(domain="example.org")
    msg.set_content(text.render(papers=chosen))
    if reader.get("format", "html") == "html":
        msg.add_alternative(html.render(papers=chosen, subject=subject), subtype="html")
    return msg


def main() -> None:
    """Mail every reader."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inbox")
    parser.add_argument("readers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--sender", default="Daily papers <papers@example.org>")
    args = parser.parse_args()
    papers = load(args.inbox)
    readers = tomllib.loads(Path(args.readers).read_text())["reader"]
    with smtplib.SMTP(args.host, args.port) as smtp:
        for reader in readers:
            smtp.send_message(message(reader, papers, args.sender))


if __name__ == "__main__":
    main()
