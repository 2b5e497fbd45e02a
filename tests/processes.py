"""Helpers for tests that run the real `digest` as a separate process."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from digest.formats import parse
from digest.identity.keys import title_key


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any DIGEST_* setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(settings)
    return env


def digest_now(inbox: Path, state: Path, *args: str) -> list[str]:
    """The command line of `digest now` on this inbox and state file."""
    return [
        sys.executable,
        "-m",
        "digest",
        "now",
        "--inbox",
        str(inbox),
        "--state",
        str(state),
        *args,
    ]


def paper_keys(*dumps: Path) -> set[str]:
    """The identities of every paper listed in these dump files."""
    return {title_key(p.title) for d in dumps for p in parse(d.read_bytes(), d.name).papers}


def delivered_keys(out: Path) -> list[str]:
    """The identities of the papers in every JSON digest written to `out`, repeats kept."""
    return sorted(
        title_key(p["title"])
        for f in out.glob("*.json")
        for p in json.loads(f.read_text())["papers"]
    )


def pending_digests(state: Path) -> int:
    """Digests stored but not yet delivered (0 while the state file is not there yet, or was
    killed before its first migration)."""
    if not state.exists():
        return 0
    with contextlib.closing(sqlite3.connect(state)) as db:
        try:
            sql = "SELECT count(*) FROM digests WHERE status = 'pending'"
            return int(db.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def integrity(state: Path) -> str:
    """SQLite's own check of the state file: 'ok' when intact."""
    with contextlib.closing(sqlite3.connect(state)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def run_digest(
    folder: Path, *argv: str, env: dict[str, str] | None = None, stdout: int | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line in its own process, run in `folder` on the state file
    folder/s.sqlite3, with only the given DIGEST_* settings."""
    return subprocess.run(
        [sys.executable, "-m", "digest", *argv, "--state", str(folder / "s.sqlite3")],
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(**(env or {})),
        cwd=folder,
        timeout=120,
    )
