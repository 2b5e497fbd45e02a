"""The words and patterns that readers and operators write (DIGEST_HIGHLIGHT, DIGEST_EXCLUDE,
a reader's own on the web or in the readers file), compiled so that no input can make matching
slower than linear in the text: one subscriber's pattern must never stall the other readers.

A term of plain words is a literal matched whole-word by the standard library with nothing to
backtrack over; anything else is a regular expression for RE2 (google-re2), whose automata
match in time linear in the text, whatever the pattern. RE2 has no lookaround and no
backreferences: a pattern using them is refused with one line. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from digest.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# A term of words alone (letters, digits, spaces, hyphens, apostrophes) matches whole words,
# so "RL" does not match "world"; anything else is a regular expression used as written.
_PLAIN = re.compile(r"[\w\s'-]+")
# A term longer than this is refused: nobody writes one, and it bounds the compiled program.
MAX_LENGTH = 300
# RE2's memory budget for one compiled pattern (its default is 8 MiB); a pattern that needs
# more (a{1000}{1000}-like repetition) fails to compile and is refused.
_RE2_MEMORY = 4 << 20


@dataclass(frozen=True, slots=True)
class Term:
    """One of the reader's words or patterns, as written and as compiled."""

    text: str
    matcher: Any = field(compare=False, repr=False)

    def found(self, text: str) -> bool:
        """Whether the term occurs in the text."""
        return self.matcher.search(text) is not None

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Where the term occurs in the text, as (start, end) character offsets."""
        for m in self.matcher.finditer(text):
            yield m.span()


def term(text: str, setting: str) -> Term:
    """One term compiled; raises ConfigError naming the setting for one that cannot be used."""
    try:
        return _compiled(text)
    except _Refused as e:
        raise ConfigError(f"{setting}: {e}") from None


class _Refused(Exception):
    """Why a term cannot be used, after the name of its setting."""


# Compiled once a process, whatever the number of readers sharing a term and the places it
# is checked (the DIGEST_* setting, the readers file, the web form, each reader's digest);
# a term is immutable. Bounded, as each may hold up to _RE2_MEMORY: a stranger's terms cannot
# grow it without end.
@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> Term:
    if len(text) > MAX_LENGTH:
        raise _Refused(f"a term of at most {MAX_LENGTH} characters, not {len(text)}")
    if _PLAIN.fullmatch(text):
        # Literal words; the possessive \s++ cannot backtrack, so each start costs at most
        # the term's length.
        words = r"\s++".join(map(re.escape, text.split()))
        return Term(text, re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE))
    matcher = _re2(text)
    if matcher.search("") is not None:
        raise _Refused(f"{text!r} matches empty text, so it would match anything")
    return Term(text, matcher)


def terms(raw: str, setting: str) -> tuple[Term, ...]:
    """The terms of a comma-separated setting, each a word or a regular expression, matched
    ignoring case. Raises ConfigError naming the setting for one that is not valid."""
    return tuple(term(t, setting) for t in (t.strip() for t in raw.split(",")) if t)


def _re2(text: str) -> Any:
    import re2

    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the error is raised to the caller, not written to stderr
    options.max_mem = _RE2_MEMORY
    try:
        return re2.compile(text, options)
    except re2.error as e:
        why = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else e
        raise _Refused(
            f"{text!r} is not a valid regular expression: {why} (patterns are"
            " matched by RE2, in linear time: no lookaround, no backreferences)"
        ) from None
