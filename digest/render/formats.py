"""The Renderer that makes the output formats (digest.outputs) of one digest.

A format made from a template is one entry in digest.outputs and one template in
templates/; a format made by code is one module with a function from the digest's view (and
the run's cache of what its digests share) to text, and its entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from digest.models import DEFAULT_SUBJECT
from digest.outputs import FORMATS
from digest.render.views import NUMBER, DigestView, Entry, drawn

if TYPE_CHECKING:
    from pathlib import Path

    import jinja2

    from digest.models import Digest
    from digest.patterns import Term


# The templates that draw one paper, by format: their paper_block and compact_line macros.
FRAGMENTS = {"html": "_paper.html.j2", "text": "_paper.txt.j2", "markdown": "_paper.md.j2"}
# The text part right-aligns numbers in 3 columns.
_NUMBER_WIDTH = {"html": 1, "text": 3, "markdown": 1}

Fragments = dict[Hashable, Any]  # a run's made fragments, views and keys


def _frozen(value: Any) -> Hashable:
    """A view's value as a part of a cache key."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _frozen(v)) for k, v in value.items())
    return value  # type: ignore[no-any-return]


class Renderer:
    """One digest's renderings: each paper's view computed once, each format made at most
    once, every template render counted (`renders`, by format name; `fragment_renders`, by
    format, for papers) so that what a run costs can be seen from outside.

    `fragments` is a cache of papers' fragments that the caller may share between the
    digests of one run (one per reader): a paper's fragment is then rendered once a run,
    whatever the number of digests it is in. It is keyed on everything the fragment is made
    of: the paper's view (the reader's highlight terms and reason included), its form, the
    templates, and those of the reader's highlight words that occur in the paper; the
    relevance score, which fragments do not show, is left out of it, so that readers with
    other words or scores still share the fragments of papers that read the same to them."""

    def __init__(
        self,
        digest: Digest,
        *,
        templates: Path | None = None,
        subject: str = DEFAULT_SUBJECT,
        fragments: Fragments | None = None,
        like: Renderer | None = None,
    ) -> None:
        self.digest = digest
        self.templates = templates
        self.subject = subject  # the DIGEST_SUBJECT template
        self.fragments: Fragments = {} if fragments is None else fragments
        if like is None:
            self.view = DigestView.of(digest, subject, self.fragments)
        else:  # the same digest in more detail: the same views, counts and subject
            self.view = like.view.detailed(digest)
        self.renders: Counter[str] = Counter()
        self.fragment_renders: Counter[str] = Counter()
        self._made: dict[str, str] = {}
        self._modules: dict[str, Any] = {}
        self._where = str(templates)
        # Each entry's fragment as found in the cache, by the entry: a digest asks for the
        # same ones in each of its formats and layouts. Its views are the cache's, kept by
        # it, so that their ids stay theirs.
        self._found: dict[tuple[int, str, str, str, bool], str] = {}
        if like is not None:
            self._found = like._found  # the same views: the same fragments

    def detailed(self) -> Renderer:
        """This digest's renderer with every abstract (DIGEST_DETAIL=full): itself when it
        has them already; its templates, subject and fragment cache shared."""
        if self.digest.detail == "full":
            return self
        from dataclasses import replace

        digest = replace(self.digest, detail="full")
        return Renderer(
            digest,
            templates=self.templates,
            subject=self.subject,
            fragments=self.fragments,
            like=self,
        )

    def fragment(self, entry: Entry, fmt: str) -> str:
        """One paper drawn in `fmt` (html, text or markdown) in its entry's form, by the
        macros of its fragment template; each made once a run, then numbered as this digest
        numbers it."""
        entry_key = (id(entry.paper), fmt, entry.form, entry.abstract, entry.shortened)
        made = self._found.get(entry_key)
        if made is None:
            made = self._found[entry_key] = self._fragment(entry, fmt)
        width = _NUMBER_WIDTH[fmt]
        numbered = made.replace(NUMBER * width, f"{entry.number:>{width}}")
        if fmt == "html":
            import markupsafe

            return markupsafe.Markup(numbered)
        return numbered

    def _fragment(self, entry: Entry, fmt: str) -> str:
        """An entry's fragment, with its number left as a placeholder: from the run's cache,
        else drawn by its macro."""
        # The key: what the paper's view shows (known for a view made once a run, see
        # views.cached_view; else the view itself, frozen), its form and format, and those of
        # the reader's words that occur in what the fragment marks.
        shown = drawn(self.fragments, entry.paper)
        if shown is None:
            shown = _frozen({k: v for k, v in entry.paper.items() if k != "score"})
        marked = self._marked(entry.paper, entry.abstract)
        key = (fmt, entry.form, entry.abstract, entry.shortened, self._where, shown, marked)
        made = self.fragments.get(key)
        if made is None:
            if fmt not in self._modules:
                template = self.environment.get_template(FRAGMENTS[fmt])
                self._modules[fmt] = template.make_module({"highlight": self.digest.highlight})
            module = self._modules[fmt]
            placeholder = NUMBER * _NUMBER_WIDTH[fmt]
            view = {k: v for k, v in entry.paper.items() if k != "score"}
            placed = Entry(placeholder, view, entry.abstract, entry.shortened, entry.form)
            macro = module.compact_line if entry.form == "title" else module.paper_block
            made = self.fragments[key] = str(macro(placed))
            self.fragment_renders[fmt] += 1
        return made

    def _marked(self, view: dict[str, Any], abstract: str) -> tuple[str, ...]:
        """The reader's highlight words that occur in what a fragment marks (title, TL;DR,
        abstract): all a fragment depends on of them, so readers whose words do not occur
        in a paper share its fragment. Whether a word occurs in a paper is looked for once
        a run."""
        if not self.digest.highlight:
            return ()
        texts = (view["title"], view["tldr"], abstract)
        return tuple(t.text for t in self.digest.highlight if self._occurs(t, texts))

    def _occurs(self, term: Term, texts: tuple[str, str, str]) -> bool:
        key = ("occurs", term.text, *texts)
        found = self.fragments.get(key)
        if found is None:
            from digest.render.tex import unicode

            found = self.fragments[key] = any(term.found(unicode(t)) for t in texts if t)
        return bool(found)

    def joined(self, entries: list[Entry], fmt: str, before: str = "", after: str = "") -> str:
        """The fragments of these entries one after another, each between `before` and
        `after`: one call from a template for a list of papers, not one a paper."""
        made = "".join(f"{before}{self.fragment(entry, fmt)}{after}" for entry in entries)
        if fmt == "html":
            import markupsafe

            return markupsafe.Markup(made)
        return made

    def context(self) -> dict[str, Any]:
        """What every template is given: the view's context, `fragment(entry, fmt)` and
        `fragments(entries, fmt, before="", after="")`."""
        return {**self.view.context(), "fragment": self.fragment, "fragments": self.joined}

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
                self._made[fmt] = _function(made)(self.view, self.fragments)
            else:
                self._made[fmt] = self.template(fmt, self.context())
        return self._made[fmt]


def _function(path: str) -> Callable[[DigestView, Fragments], str]:
    """The function a format is made by, from its "module:function"."""
    from importlib import import_module

    module, name = path.split(":")
    made: Callable[[DigestView, Fragments], str] = getattr(import_module(module), name)
    return made


def render(
    digest: Digest,
    fmt: str,
    templates: Path | None = None,
    subject: str = DEFAULT_SUBJECT,
    fragments: Fragments | None = None,
) -> str:
    """Render one format of a digest: html, text, markdown or json."""
    return Renderer(digest, templates=templates, subject=subject, fragments=fragments).render(fmt)
