"""`digest now --dry-run` with a readers file: a preview for each reader, named by them, in
the output folder (or ./digest-preview when the digests are mailed), and nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import SEEDS
from tests.processes import clean_env

READERS = """
[[reader]]
email = "ann@example.org"
highlight = ["video"]

[[reader]]
email = "bob@example.org"
"""


def dry_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inbox = tmp_path / "inbox"
    if not inbox.exists():
        inbox.mkdir()
        for seed in sorted(SEEDS.glob("*.txt"))[:2]:
            (inbox / seed.name).write_bytes(seed.read_bytes())
        (tmp_path / "readers.toml").write_text(READERS)
    return subprocess.run(
        [sys.executable, "-m", "digest", "now", "--dry-run", *args],
        env=clean_env(
            HOME=str(tmp_path / "home"),
            XDG_DATA_HOME=str(tmp_path / "home" / "data"),
            DIGEST_INBOX=str(inbox),
            DIGEST_STATE=str(tmp_path / "state.sqlite3"),
            DIGEST_READERS=str(tmp_path / "readers.toml"),
            DIGEST_DELIVER="smtp",
            DIGEST_SMTP_HOST="127.0.0.1",
            DIGEST_FROM="papers@example.org",
            **env,
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_reader_gets_a_preview_of_their_own_in_the_preview_folder(tmp_path: Path) -> None:
    done = dry_run(tmp_path, "--format", "html")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "digest-preview"
    ann, bob = folder / "preview-ann@example.org.html", folder / "preview-bob@example.org.html"
    assert sorted(done.stdout.splitlines()) == [
        "digest-preview/preview-ann@example.org.html",
        "digest-preview/preview-bob@example.org.html",
    ]
    assert sorted(folder.iterdir()) == [ann, bob]
    assert "matches: video" in ann.read_text()  # her highlight, in her own preview alone
    assert "matches: video" not in bob.read_text() and "<h1" in bob.read_text()
    assert not (tmp_path / "home").exists()  # nothing in the user's data folder


def test_a_preview_for_one_reader_and_into_the_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = dry_run(tmp_path, "--format", "text", "--reader", "bob@example.org", DIGEST_OUT=str(out))
    assert done.returncode == 0, done.stderr
    assert [p.name for p in out.iterdir()] == ["preview-bob@example.org.txt"]
    assert not (tmp_path / "digest-preview").exists()
