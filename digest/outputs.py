"""The output formats of a digest: one entry each, and nothing else to change for a new one.

An entry names the format (DIGEST_FORMAT, `digest now --format`), the extension of its file,
and how it is made: a template of the templates folder, or a function of the digest's view
("module:function", loaded when the format is first made). Everything else follows from
this table: the settings accept its names, render.Renderer makes them, the outbox keeps each
digest's renderings by name, the files channel writes one file a format. Light on purpose:
the settings read it on every run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Format:
    """One output format: its name, its file's extension, and its template or function."""

    name: str
    extension: str
    template: str | None = None
    make: str | None = None  # "module:function", of a render.views.DigestView and a run's cache


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("html", "html", template="digest.html.j2"),
        Format("text", "txt", template="digest.txt.j2"),
        Format("markdown", "md", template="digest.md.j2"),
        Format("json", "json", make="digest.render.as_json:to_json"),
    )
}
NAMES = tuple(FORMATS)
