"""Faults from the outside world, made real: a full disk (a file-size limit the kernel
enforces on a real `digest` process) while writing the store or the digest files."""

from __future__ import annotations

import re
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from processes import clean_env, delivered_keys, digest_now, integrity, paper_keys


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        cmd, env=clean_env(), capture_output=True, text=True, timeout=60, **kwargs
    )


def _limited(max_bytes: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


@pytest.mark.parametrize("limit", [4_000, 40_000, 150_000, 400_000])
def test_disk_full_loses_nothing_and_the_next_run_completes(
    inbox: Path, seeds: list[Path], tmp_path: Path, limit: int
) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    cmd = digest_now(inbox, state, "--out", str(out))
    assert _run(cmd).returncode == 0  # create the store
    shutil.copy(seeds[1], inbox)
    shutil.copy(seeds[2], inbox)

    full = _run(cmd, preexec_fn=lambda: _limited(limit))
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    [line] = full.stderr.strip().splitlines()
    assert re.fullmatch(
        f"digest: state file {state} cannot be (used|written): disk I/O error", line
    )

    fine = _run(cmd)
    assert fine.returncode == 0, fine.stderr
    assert delivered_keys(out) == sorted(paper_keys(*seeds[1:3]))
    assert integrity(state) == "ok"


@pytest.fixture
def small_disk(tmp_path: Path) -> object:
    """A real 64 KB file system (tmpfs), where the machine lets us mount one."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_digest_files_on_a_full_disk_stay_pending_until_there_is_room(
    inbox: Path, seeds: list[Path], tmp_path: Path, small_disk: Path
) -> None:
    state, out = tmp_path / "state.sqlite3", small_disk / "out"
    cmd = digest_now(inbox, state, "--out", str(out))
    shutil.copy(seeds[2], inbox)
    full = _run(cmd)
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "No space left on device" in full.stderr and "will retry" in full.stderr
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind

    roomy = tmp_path / "out"
    retry = _run([*cmd[:-1], str(roomy)])
    assert retry.returncode == 0, retry.stderr
    assert delivered_keys(roomy) == sorted(paper_keys(seeds[2]))
