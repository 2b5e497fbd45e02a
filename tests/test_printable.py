"""Outside text reaches a terminal or a log only as printable text: the helper itself, then
file names in serve's log, in `seen` and `--explain`, and a mail server's reply."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from digest.printable import printable
from tests.mailserver import Handler, smtp_server
from tests.processes import clean_env
from tests.service.test_service import SEEDS, Serve, digests, serves, until

__all__ = ["serves"]  # the fixture, used by name

ESCAPES = "\x1b[2J\x1b]0;owned\x07"
HOSTILE = f"{ESCAPES}new\nline.txt"  # clears the screen, retitles it, and splits a log line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain name.txt", "plain name.txt"),
        ("déjà vu — 論文.txt", "déjà vu — 論文.txt"),  # any printable character stays
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("new\nline\r\ttab", "new\\x0aline\\x0d\\x09tab"),
        ("bell\x07 del\x7f c1\x9b", "bell\\x07 del\\x7f c1\\x9b"),
        ("bidi\u202eevil\u202c", "bidi\\u202eevil\\u202c"),
        ("para\u2028sep", "para\\u2028sep"),
        (os.fsdecode(b"r\xe9sum\xe9.txt"), "r\\xe9sum\\xe9.txt"),  # bytes that are not UTF-8
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ],
)
def test_printable_shows_what_a_terminal_would_obey_as_escapes(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(shown) == shown  # already printable: unchanged
    shown.encode("utf-8")  # and it can be written anywhere


def digest(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *argv],
        capture_output=True,
        text=True,
        env=clean_env(**env),
        cwd=cwd,
        timeout=60,
    )


def assert_printable(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output
    assert not any(line.startswith("line.txt") for line in output.splitlines())


@pytest.mark.slow
def test_names_in_serves_log_lines_are_printable(
    inbox: Path, tmp_path: Path, serves: list[Serve]
) -> None:
    out = tmp_path / "out"
    shutil.copy(SEEDS[0], inbox / HOSTILE)
    serve = Serve(tmp_path, inbox, out)
    serves.append(serve)
    until(lambda: bool(digests(out)), 20, f"a digest; log:\n{serve.text()}")
    assert serve.stop() == 0
    log = serve.text()
    assert_printable(log)
    assert f"read {printable(HOSTILE)}: " in log


@pytest.mark.slow
def test_names_stored_by_ingest_are_printable_in_seen_and_explain(
    inbox: Path, tmp_path: Path
) -> None:
    backlog = tmp_path / "backlog"
    backlog.mkdir()
    shutil.copy(SEEDS[0], backlog / HOSTILE)
    state = str(tmp_path / "state.sqlite3")
    ingested = digest("ingest", "--state", state, str(backlog / HOSTILE), cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    assert_printable(ingested.stderr)

    seen = digest("seen", "--state", state, "learning", cwd=tmp_path)
    assert seen.returncode == 0, seen.stderr
    assert f"[{printable(HOSTILE)}]" in seen.stdout
    assert_printable(seen.stdout)

    (inbox / "again.txt").write_bytes(SEEDS[0].read_bytes() + b"\n")  # the same papers again
    now = digest(
        "now", "--inbox", "inbox", "--state", state, "--out", "out", "--explain", cwd=tmp_path
    )
    assert now.returncode == 0, now.stderr
    assert printable(HOSTILE) in now.stderr
    assert_printable(now.stderr)


@pytest.mark.slow
def test_a_mail_servers_reply_is_printable_on_stderr_and_in_status(
    inbox: Path, tmp_path: Path
) -> None:
    shutil.copy(SEEDS[0], inbox)
    state = str(tmp_path / "state.sqlite3")
    handler = Handler(data_reply=f"451 4.3.0 {ESCAPES}busy, try later")
    with smtp_server(handler) as server:
        now = digest(
            "now",
            "--inbox",
            "inbox",
            "--state",
            state,
            cwd=tmp_path,
            DIGEST_FROM="papers@example.org",
            DIGEST_TO="ann@example.org",
            **server.environment(),
        )
    assert now.returncode == 1
    assert f"{printable(ESCAPES)}busy, try later" in now.stderr
    assert_printable(now.stderr)
    status = digest("status", "--state", state, cwd=tmp_path)
    assert f"{printable(ESCAPES)}busy, try later" in status.stdout
    assert_printable(status.stdout)
