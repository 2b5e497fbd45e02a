"""Turn a Digest into what people read: HTML, plain text, Markdown (Jinja2 templates), JSON,
and the mail message. Pure: a Digest and a few plain values in, strings and bytes out.

    views.py      what a digest shows: each paper's view, the overview, the subject
    tldr.py       a paper in one line: its AI summary, else its contribution sentence
    tex.py        TeX as Unicode, with where the emphasis was
    templates.py  the Jinja2 environment (the user's templates first), template failures
    formats.py    the output formats, one entry each, and the Renderer of one digest
    as_json.py    the JSON output
    explain.py    why each listed paper was left out (--explain)
    mail.py       the mail: sized from each paper's fragment, then built as MIME
"""

from __future__ import annotations

from digest.models import DEFAULT_SUBJECT, subject_line
from digest.outputs import FORMATS, Format
from digest.render.explain import explain
from digest.render.formats import Renderer, render
from digest.render.templates import template_failure
from digest.render.views import day, paper_view, subject, summary

__all__ = [
    "DEFAULT_SUBJECT",
    "FORMATS",
    "Format",
    "Renderer",
    "day",
    "explain",
    "paper_view",
    "render",
    "subject",
    "subject_line",
    "summary",
    "template_failure",
]
