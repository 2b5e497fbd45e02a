"""The Jinja2 templates: the user's folder first (DIGEST_TEMPLATES), then the built-in ones, so
any single template can be overridden; and a template's failure as one line naming it."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from digest.errors import ConfigError
from digest.render.views import mark, md_block, md_escape, md_url

if TYPE_CHECKING:
    import jinja2

    from digest.patterns import Term


def builtin_templates() -> Path:
    """The templates shipped with digest: inside the package when installed from a wheel,
    beside it in a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the digest package
    installed = here / "templates"
    return installed if installed.is_dir() else here.parent / "templates"


def template_failure(error: Exception) -> ConfigError | None:
    """A one-line error naming the template file and line that `error` came from (a syntax
    error, an unknown name, a failing filter); None when it did not come from a template."""
    import jinja2

    file = getattr(error, "filename", None)  # a syntax error knows where it is
    line = getattr(error, "lineno", None)
    frame = error.__traceback__
    while frame is not None:  # Jinja maps a rendering error's frames to template lines
        if frame.tb_frame.f_code.co_filename.endswith(".j2"):
            file, line = frame.tb_frame.f_code.co_filename, frame.tb_lineno
        frame = frame.tb_next
    if file is None and not isinstance(error, jinja2.TemplateError):
        return None
    why = (getattr(error, "message", None) or str(error) or type(error).__name__).strip()
    why = " ".join(why.splitlines()[0].split()).encode("unicode_escape").decode("ascii")
    where = f"template {file or 'digest'}" + (f", line {line}" if line else "")
    return ConfigError(
        f"{where}: {why}; fix it, or unset DIGEST_TEMPLATES to use the built-in templates"
    )


@lru_cache(maxsize=4096)
def _marked(text: str, terms: tuple[Term, ...], fmt: str) -> str:
    """mark(), once for the same text and words: readers who share words share the lines
    that name their papers."""
    return mark(text, terms, fmt)


@cache
def environment(user_templates: Path | None = None) -> jinja2.Environment:
    """A Jinja2 environment: HTML templates autoescaped, undefined names an error."""
    import jinja2  # imported here: a run with nothing new never pays for it
    from jinja2.sandbox import SandboxedEnvironment

    folders = [str(user_templates)] if user_templates else []
    for template in sorted(user_templates.glob("*.j2")) if user_templates else ():
        try:
            template.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"template {template} is not UTF-8 text (byte {e.start}); save it as UTF-8,"
                " or unset DIGEST_TEMPLATES to use the built-in templates"
            ) from None
        except OSError as e:
            raise ConfigError(f"template {template} cannot be read: {e.strerror}") from None
    # Sandboxed when a user's own templates are in it (DIGEST_TEMPLATES): such a template
    # reaches no Python internals and its ranges are bounded, so it cannot hang or escape a
    # run. The built-in templates alone are digest's own code: they need no sandbox, and a
    # digest calls them hundreds of times (a paper's fragment): 8.0 ms a rendering, not 9.3.
    kind = SandboxedEnvironment if user_templates else jinja2.Environment
    env = kind(
        loader=jinja2.FileSystemLoader([*folders, str(builtin_templates())]),
        # Templates compiled once, not on every run: kept in a folder of this user's own in
        # the temporary directory (Jinja checks its owner and mode), each checked against its
        # source before use, so an edited template is compiled again. Apart for each kind:
        # a template compiled for the sandbox calls through it.
        bytecode_cache=jinja2.FileSystemBytecodeCache(pattern=f"__digest_{kind.__name__}_%s"),
        autoescape=jinja2.select_autoescape(["html.j2", "html"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Wrapped once for the same text: readers share their papers' titles and sentences.
    env.filters["wordwrap"] = lru_cache(maxsize=8192)(env.filters["wordwrap"])
    env.filters["md"] = md_escape
    env.filters["md_block"] = md_block
    env.filters["md_url"] = md_url
    # {{ paper.title | mark("markdown") }}: escaped for the format, the reader's words marked.
    env.filters["mark"] = jinja2.pass_context(
        lambda ctx, text, fmt: _marked(text, tuple(ctx.get("highlight", ())), fmt)
    )
    return env
