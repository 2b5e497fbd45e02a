"""Who may use the state file: commands that only read it (`status`, `seen`, `readers`) read
it without writing, also in a folder they may not write; a state file or folder of another
user, or one no longer writable, is one line naming the file and its owner, never a traceback.

Permissions bind only a user who is not root: run as root (as CI is), the commands run as
the user `nobody`, through `runuser`, on files in a folder of their own under /tmp."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest import state
from digest.errors import StoreError
from digest.state.migrations import run as run_step
from digest.state.migrations import steps
from tests.conftest import ROOT, SEEDS
from tests.processes import clean_env, paper_keys

NOBODY = 65534


def _python_for_nobody() -> list[str] | None:
    """A command that runs this digest's Python as the user nobody, or None if none can."""
    if shutil.which("runuser") is None:
        return None
    paths = os.pathsep.join(
        [str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        command = ["runuser", "-u", "nobody", "--", "env", f"PYTHONPATH={paths}", python]
        try:
            tried = subprocess.run(
                [*command, "-c", "import digest.cli, rapidfuzz, jinja2"],
                capture_output=True,
                timeout=60,
                cwd="/",
            )
        except OSError:
            continue
        if tried.returncode == 0:
            return command
    return None


@pytest.fixture(scope="session")
def other_user() -> list[str]:
    """The command that runs Python as a user permissions bind: this one if it is not root,
    else nobody (skipped where that cannot be done)."""
    if os.geteuid() != 0:
        return [sys.executable]
    command = _python_for_nobody()
    if command is None:
        pytest.skip("running as root, and no Python with digest can run as nobody (runuser)")
    return command


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder that user can reach (pytest's own is its owner's alone)."""
    made = Path(tempfile.mkdtemp(prefix="digest-access-"))
    made.chmod(0o755)
    try:
        yield made
    finally:
        for path in [made, *made.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(made)


def run(
    python: list[str], folder: Path, *argv: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real command line, as that user, in `folder`."""
    return subprocess.run(
        [*python, "-m", "digest", *argv],
        capture_output=True,
        text=True,
        env=clean_env(PYTHONDONTWRITEBYTECODE="1", **env),
        cwd=folder,
        timeout=120,
    )


def one_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    for needle in needles:
        assert needle in line, line
    return line


def give(path: Path, uid: int) -> None:
    """Make `path` (and what is in it) that user's, as root can; nothing to do for oneself."""
    if os.geteuid() == 0:
        for each in [path, *path.rglob("*")]:
            os.chown(each, uid, -1)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.slow
def test_read_only_commands_read_a_state_in_a_folder_they_may_not_write(
    other_user: list[str], folder: Path
) -> None:
    home = folder / "digest"
    (home / "inbox").mkdir(parents=True)
    seeds = sorted(SEEDS.glob("*.txt"))
    shutil.copy(seeds[0], home / "inbox")
    (home / "readers.toml").write_text('[[reader]]\nemail = "ann@example.org"\n')
    give(home, NOBODY)
    made = run(other_user, home, "now", "--inbox", "inbox", "--state", "s.sqlite3", "--out", "out")
    assert made.returncode == 0, made.stderr
    shutil.copy(seeds[1], home / "inbox")  # new papers, for a run that must write
    home.chmod(0o555)
    before = snapshot(home)

    status = run(other_user, home, "status", "-v", "--state", "s.sqlite3")
    assert status.returncode == 0, status.stderr
    assert f"papers seen: {len(paper_keys(seeds[0]))};" in status.stdout
    assert "sent: digest 1," in status.stdout
    seen = run(other_user, home, "seen", "--state", "s.sqlite3", "speech intelligibility")
    assert seen.returncode == 0, seen.stderr
    assert "Prediction of speech intelligibility" in seen.stdout
    readers = run(other_user, home, "readers", "--readers", "readers.toml", "--state", "s.sqlite3")
    assert readers.returncode == 0, readers.stderr
    assert readers.stdout.startswith("ann@example.org: ")
    assert snapshot(home) == before  # nothing written, nothing made beside it

    now = run(other_user, home, "now", "-v", "--inbox", "inbox", "--state", "s.sqlite3")
    one_line(now, "state file s.sqlite3 cannot be written:", f"its folder {home}", "mode 555")
    assert snapshot(home) == before


def test_a_state_file_of_another_user_is_one_line_naming_it_and_its_owner(
    other_user: list[str], folder: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can make a file of another user")
    with state.open(folder / "s.sqlite3"):
        pass  # root's, mode 600
    (folder / "inbox").mkdir()
    for argv in (
        ("status", "-v"),
        ("seen", "-v", "gradient"),
        ("now", "-v", "--inbox", "inbox", "--out", "out"),
    ):
        done = run(other_user, folder, *argv, "--state", "s.sqlite3")
        one_line(done, "state file s.sqlite3 cannot be", "belongs to root (mode 600)", "nobody")


def test_a_lock_file_of_another_user_is_one_line_naming_it(
    other_user: list[str], folder: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can make a file of another user")
    with state.open(folder / "s.sqlite3") as store, store.lock():
        pass  # root's lock file, mode 600, beside the state file
    os.chown(folder / "s.sqlite3", NOBODY, -1)  # the state itself is theirs
    folder.chmod(0o777)
    (folder / "inbox").mkdir()
    done = run(other_user, folder, "now", "-v", "--inbox", "inbox", "--state", "s.sqlite3")
    one_line(done, f"the file {folder}/s.sqlite3.lock belongs to root (mode 600)")


def _older(path: Path) -> None:
    """A state file as the digest before the last migration left it."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for name, script in steps("sqlite")[:-1]:
            run_step(db, script)  # type: ignore[arg-type]
            db.execute("INSERT INTO migrations VALUES (?, '2025-01-01')", (name,))
    path.chmod(0o600)


def _applied(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return {row[0] for row in db.execute("SELECT name FROM migrations")}


def test_a_state_that_needs_an_upgrade_is_upgraded_or_said_so(
    other_user: list[str], folder: Path
) -> None:
    home = folder / "digest"
    home.mkdir()
    _older(home / "s.sqlite3")
    give(home, NOBODY)
    home.chmod(0o555)
    before = snapshot(home)
    done = run(other_user, home, "status", "--state", "s.sqlite3")
    one_line(done, "state file s.sqlite3 cannot be upgraded for this version of digest")
    assert snapshot(home) == before

    home.chmod(0o755)
    upgraded = run(other_user, home, "status", "--state", "s.sqlite3")
    assert upgraded.returncode == 0, upgraded.stderr
    assert _applied(home / "s.sqlite3") == {name for name, _ in steps("sqlite")}


def test_read_only_commands_make_no_state_file(tmp_path: Path) -> None:
    done = run([sys.executable], tmp_path, "status", "--state", "new/s.sqlite3")
    assert done.returncode == 0, done.stderr
    assert "papers seen: 0; awaiting delivery: 0; dumps ingested: 0" in done.stdout
    assert not (tmp_path / "new").exists()


def test_a_store_opened_read_only_refuses_to_write(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with state.open(path):
        pass
    before = path.read_bytes()
    with state.open(path, readonly=True) as store:
        assert store.counts() == {"papers_seen": 0, "papers_pending": 0, "dumps": 0}
        with pytest.raises(StoreError, match="readonly"):
            store.set_service_state(pid="1")
    assert path.read_bytes() == before
