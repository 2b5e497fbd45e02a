"""What reaches a user from the real CLI when the terminal, a pipe or a template misbehaves:
one line or nothing, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests.processes import clean_env, digest_now, run_digest

NON_ASCII = "Daily Papers\n\nZürich Ünïcode Résumé of “Quoted” Models\n\n" + "Abstract ü. " * 20


digest = run_digest  # the real CLI in its own process, on tmp_path/s.sqlite3


@pytest.fixture
def filled(tmp_path: Path, inbox: Path, seeds: list[Path]) -> Path:
    """A state file with every seed seen, and the inbox holding them."""
    for seed in seeds:
        shutil.copy(seed, inbox)
    done = digest(tmp_path, "now", "--inbox", str(inbox), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    return inbox


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [["status"], ["seen", "learning", "--limit", "50"], ["check", "inbox/*"]],
    ids=["status", "seen", "check"],
)
def test_a_reader_that_goes_away_ends_it_quietly(
    tmp_path: Path, filled: Path, argv: list[str]
) -> None:
    if argv[0] == "check":
        argv = ["check", *map(str, sorted(filled.iterdir()))]
    read, write = os.pipe()
    os.close(read)  # like `| head` that has already read all it wanted
    try:
        run = digest(tmp_path, *argv, stdout=write)
    finally:
        os.close(write)
    assert run.stderr == ""
    assert run.returncode == 141  # as a shell reports a command ended by a closed pipe


def test_a_terminal_that_cannot_show_a_character_gets_an_escape(
    tmp_path: Path, inbox: Path
) -> None:
    (inbox / "zurich.txt").write_text(NON_ASCII)
    env = {"PYTHONIOENCODING": "ascii"}
    check = digest(tmp_path, "check", str(inbox / "zurich.txt"), env=env)
    assert check.returncode == 0, check.stderr
    assert "Z\\xfcrich \\xdcn\\xefcode" in check.stdout
    printed = digest(
        tmp_path, "now", "--inbox", str(inbox), "--deliver", "stdout", "--format", "text", env=env
    )
    assert printed.returncode == 0, printed.stderr  # the digest itself goes out as UTF-8
    seen = digest(tmp_path, "seen", "Zurich Unicode", env=env)
    assert seen.returncode == 0 and "Traceback" not in seen.stderr
    assert "Z\\xfcrich" in seen.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("template", "where", "why"),
    [
        ("line one\n{% for p in papers %}\n{{ p.title }\n{% endfor %}\n", "line 3", "unexpected"),
        ("ok\n\n{{ papers | no_such_filter }}\n", "line 3", "no_such_filter"),
        ("ok\n{{ no_such_name.title }}\n", "line 2", "no_such_name"),
        ("ok\n\n\n{{ 1 // 0 }}\n", "line 4", "division or modulo by zero"),
    ],
    ids=["syntax", "filter", "undefined", "runtime"],
)
def test_a_broken_user_template_is_one_line_naming_file_and_line(
    tmp_path: Path, inbox: Path, seeds: list[Path], template: str, where: str, why: str
) -> None:
    shutil.copy(seeds[0], inbox)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "digest.txt.j2").write_text(template)
    run = digest(tmp_path, "now", "--inbox", str(inbox), "--templates", str(folder))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert f"template {folder / 'digest.txt.j2'}, {where}: " in line
    assert why in line and "DIGEST_TEMPLATES" in line
    # The papers are read and kept, awaiting a digest: fixed, the next run delivers them.
    status = digest(tmp_path, "status")
    assert "papers seen: 0; awaiting delivery: 63" in status.stdout
    (folder / "digest.txt.j2").write_text("{% for p in papers %}{{ p.title }}\n{% endfor %}")
    again = digest(tmp_path, "now", "--inbox", str(inbox), "--templates", str(folder))
    assert again.returncode == 0, again.stderr
    assert "papers seen: 63; awaiting delivery: 0" in digest(tmp_path, "status").stdout


def test_a_non_ascii_unsubscribe_address_is_sent_percent_encoded(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox)
    env = {
        "DIGEST_FROM": "papers@example.org",
        "DIGEST_TO": "ann@example.org",
        "DIGEST_DELIVER": "files",
        "DIGEST_UNSUBSCRIBE": "https://exemple.fr/désabonner?qui=anné",
    }
    out = tmp_path / "out"
    run = digest(tmp_path, "now", "--inbox", str(inbox), "--out", str(out), env=env)
    assert run.returncode == 0, run.stderr
    eml = next(out.glob("*.eml")).read_bytes()
    raw = [line for line in eml.split(b"\r\n") if line.startswith(b"List-Unsubscribe:")]
    assert raw == [b"List-Unsubscribe: <https://exemple.fr/d%C3%A9sabonner?qui=ann%C3%A9>"]
    message = BytesParser(policy=policy.default).parsebytes(eml)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.slow
def test_stdout_that_cannot_be_written_keeps_the_digest(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    shutil.copy(seeds[3], inbox)
    state = tmp_path / "s.db"
    cmd = digest_now(inbox, state, "--deliver", "stdout")
    with open("/dev/full", "w") as full:
        failed = subprocess.run(
            cmd, env=clean_env(), stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "cannot write the digest to standard output" in failed.stderr
    again = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout.count("Daily papers: 56 new") == 1
