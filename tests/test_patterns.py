"""What readers and operators write as highlight and exclude terms is matched in linear time:
no pattern, from the readers file, a subscriber's own settings or DIGEST_*, can stall the other
readers' digests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.patterns import terms
from tests.mailserver import smtp_server

# Patterns known to take exponential or polynomial time in a backtracking engine, each with a
# text that triggers it.
EVIL = [
    (r"(\w+\s?)+$", "word " * 40 + "!"),
    (r"(a+)+b", "a" * 40),
    (r"(a|aa)+c", "a" * 40),
    (r"(x+x+)+y", "x" * 40),
    (r"(.*a){20}", "a" * 40 + "b"),
    (r"^(\d+)+$", "1" * 40 + "z"),
]


@pytest.mark.parametrize(("pattern", "text"), EVIL)
def test_a_pattern_that_backtracks_forever_elsewhere_matches_in_linear_time(
    pattern: str, text: str
) -> None:
    (term,) = terms(pattern, "DIGEST_HIGHLIGHT")
    long = text * 2_000  # about 100-400 KB, far beyond any abstract
    started = time.process_time()
    term.found(long)
    list(term.spans(long))
    # A backtracking engine needs years on the short text alone; RE2 needs milliseconds.
    assert time.process_time() - started < 1.0


@pytest.mark.parametrize(
    ("raw", "text", "spans"),
    [
        (r"transform\w+", "Transformers and transformation", [(0, 12), (17, 31)]),
        ("poincaré", "Poincaré disks", [(0, 8)]),  # whole words, Unicode case
        ("poincar", "Poincaré disks", []),  # not inside a word, even a non-ASCII one
        ("kv  cache", "the KV\ncache", [(4, 12)]),
        ("état", "ÉTAT DE L'ART", [(0, 4)]),  # character offsets, not bytes
        (r"(?i)ÉTÉ", "un été chaud", [(3, 6)]),
    ],
)
def test_terms_find_where_they_occur_in_characters(
    raw: str, text: str, spans: list[tuple[int, int]]
) -> None:
    (term,) = terms(raw, "DIGEST_HIGHLIGHT")
    assert list(term.spans(text)) == spans
    assert term.found(text) is bool(spans)


def test_a_plain_term_with_long_white_space_is_linear() -> None:
    (term,) = terms("kv cache", "DIGEST_HIGHLIGHT")
    text = ("kv" + " " * 5_000) * 200  # a backtracking \s+ would try every split
    started = time.process_time()
    assert not term.found(text)
    assert time.process_time() - started < 1.0


def test_nothing_is_written_to_stderr_for_a_refused_pattern(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ConfigError):
        terms("(?<=x)y", "DIGEST_EXCLUDE")
    assert capfd.readouterr().err == ""


PAPERS = "\n\n".join(
    [
        "Daily Papers",
        "A Paper Everyone Gets",
        "We propose a method. " + "word " * 60 + "!",
        "Another Paper on Diffusion",
        "We study diffusion models; " + "x" * 60,
    ]
)


def test_one_readers_patterns_delay_no_one(tmp_path: Path) -> None:
    """Readers whose highlight and exclude terms backtrack forever elsewhere, from the readers
    file and the operator's DIGEST_HIGHLIGHT: every reader gets their digest at once."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "day.txt").write_text(PAPERS)
    (tmp_path / "readers.toml").write_text(
        "[[reader]]\nemail = 'ann@example.org'\nhighlight = ['(\\w+\\s?)+$']\n\n"
        "[[reader]]\nemail = 'bob@example.org'\nexclude = ['(x+x+)+y']\n\n"
        "[[reader]]\nemail = 'cy@example.org'\n"
    )
    with smtp_server() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update(
            server.environment(),
            DIGEST_INBOX=str(inbox),
            DIGEST_STATE=str(tmp_path / "state.sqlite3"),
            DIGEST_READERS=str(tmp_path / "readers.toml"),
            DIGEST_FROM="papers@example.org",
            DIGEST_DELIVER="smtp",
            DIGEST_HIGHLIGHT=r"(a|aa)+c, ^(\d+)+$",
        )
        done = subprocess.run(
            [sys.executable, "-m", "digest", "now"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,  # a backtracking engine would still be matching after years
        )
        assert done.returncode == 0, done.stderr
        got = sorted(r for m in server.received for r in m.recipients)
        assert got == ["ann@example.org", "bob@example.org", "cy@example.org"]
