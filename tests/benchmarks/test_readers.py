"""The many-readers benchmark runs end to end at a small size (its sizes are run by hand)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import clean_env

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from readers import normalised  # noqa: E402

SIDES = ["digest (sqlite)", "script", "floor"]


def figures(output: str, label: str) -> list[str]:
    """The cells of one row of the table: one a side."""
    line = next(line for line in output.splitlines() if line.startswith(label))
    return re.split(r"\s{2,}", line[len(label) :].strip())


@pytest.mark.slow
def test_readers_benchmark_measures_three_sides_and_checks_readers_alone() -> None:
    args = ["--readers", "5", "--repeat", "1", "--check", "2"]
    output = subprocess.check_output(
        [sys.executable, str(ROOT / "benchmarks" / "readers.py"), *args],
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert "bytecode" in output and "load average" in output
    header = next(line for line in output.splitlines() if line.strip().startswith("digest"))
    assert header.split() == ["digest", "(sqlite)", "script", "floor"]
    assert figures(output, "messages accepted") == ["5", "5", "5"]
    # The floor resends digest's very messages; the script sends its own.
    digest_mb, _, floor_mb = figures(output, "MB sent")
    assert digest_mb == floor_mb and float(digest_mb) > 0
    for label in ("CPU s, its process", "peak MB, its process", "mail server CPU s"):
        assert all(float(cell) > 0 for cell in figures(output, label)), label
    digest_cpu, script_cpu, floor_cpu = map(float, figures(output, "CPU s, its process"))
    assert digest_cpu > floor_cpu and script_cpu > floor_cpu
    assert "digest (sqlite) CPU / script CPU" in output
    assert "digest (sqlite) CPU / floor CPU" in output
    state = next(line for line in output.splitlines() if "state after digest (SQLite)" in line)
    assert "bytes a reader" in state and "5 outbox rows" in state
    assert "check: 2 of 2 readers' messages alone are the same as in the crowd" in output


MESSAGE = (
    b"Date: {date}\r\n"
    b"Message-ID: <{ident}@example.org>\r\n"
    b"List-Unsubscribe: \r\n <https://papers.example.org/unsubscribe/{token}>\r\n"
    b'Content-Type: multipart/alternative; boundary="==={boundary}=="\r\n'
    b"\r\n"
    b"--==={boundary}==\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Like it: https://papers.example.org/like/{token_cut}?paper=3D1\r\n"
    b"Made by digest on 2026-12-05 16:{minute} UTC. {body}\r\n"
    b"--==={boundary}==--\r\n"
)


def message(n: int, body: str = "Hello") -> bytes:
    """The same message as made by a run of its own (`n`): all that differs between runs."""
    token = f"{n:x}".rjust(32, "a")
    return (
        MESSAGE.replace(b"{date}", f"Sat, 05 Dec 2026 16:3{n} +0000".encode())
        .replace(b"{ident}", f"{n}".rjust(40, "b").encode())
        .replace(b"{token}", token.encode())
        .replace(b"{token_cut}", f"{token[:20]}=\r\n{token[20:]}".encode())
        .replace(b"{boundary}", f"{n}".rjust(19, "7").encode())
        .replace(b"{minute}", f"{30 + n}".encode())
        .replace(b"{body}", body.encode())
    )


def test_a_message_alone_and_in_the_crowd_compare_but_for_what_each_run_makes_its_own() -> None:
    assert normalised(message(1)) == normalised(message(2))
    assert normalised(message(1)) != normalised(message(2, body="Hellp"))
    assert b"TOKEN" in normalised(message(1)) and b"aaaa" not in normalised(message(1))
