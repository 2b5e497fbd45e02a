"""The output formats, one entry each, and the Renderer that makes them for one digest.

A format made from a template is one entry here and one template in templates/; a format
made by code is one module with a function from the digest's view to text, and its entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digest.models import DEFAULT_SUBJECT
from digest.render.views import DigestView

if TYPE_CHECKING:
    from pathlib import Path

    import jinja2

    from digest.models import Digest


def _json(view: DigestView) -> str:
    from digest.render.as_json import to_json  # json is loaded only when it is asked for

    return to_json(view)


@dataclass(frozen=True, slots=True)
class Format:
    """One output format: its name (DIGEST_FORMAT), the extension of its file, and how it is
    made: a template of the templates folder, or a function of the digest's view."""

    name: str
    extension: str
    template: str | None = None
    make: Callable[[DigestView], str] | None = None


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("html", "html", template="digest.html.j2"),
        Format("text", "txt", template="digest.txt.j2"),
        Format("markdown", "md", template="digest.md.j2"),
        Format("json", "json", make=_json),
    )
}


class Renderer:
    """One digest's renderings: each paper's view computed once, each format made at most
    once, every template render counted (`renders`, by format name) so that what a run
    costs can be seen from outside."""

    def __init__(
        self,
        digest: Digest,
        *,
        templates: Path | None = None,
        subject: str = DEFAULT_SUBJECT,
    ) -> None:
        self.digest = digest
        self.templates = templates
        self.view = DigestView.of(digest, subject)
        self.renders: Counter[str] = Counter()
        self._made: dict[str, str] = {}

    @property
    def environment(self) -> jinja2.Environment:
        """The Jinja2 environment of the templates folder (user's first, then built-in)."""
        from digest.render.templates import environment

        return environment(self.templates)

    def template(self, fmt: str, context: dict[str, Any]) -> str:
        """Render the template of `fmt` with `context`, counted."""
        name = FORMATS[fmt].template
        assert name is not None, f"{fmt} is not made from a template"
        self.renders[fmt] += 1
        return self.environment.get_template(name).render(context)

    def render(self, fmt: str) -> str:
        """The whole digest in one format; made once, then kept."""
        if fmt not in self._made:
            made = FORMATS[fmt].make
            if made is not None:
                self.renders[fmt] += 1
                self._made[fmt] = made(self.view)
            else:
                self._made[fmt] = self.template(fmt, self.view.context())
        return self._made[fmt]


def render(
    digest: Digest, fmt: str, templates: Path | None = None, subject: str = DEFAULT_SUBJECT
) -> str:
    """Render one format of a digest: html, text, markdown or json."""
    return Renderer(digest, templates=templates, subject=subject).render(fmt)
