"""Failures of the edges found in review: each one line, no traceback, nothing lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from processes import clean_env, digest_now

from digest.config import Settings, load
from digest.errors import ConfigError
from digest.render import subject


def test_empty_state_setting_means_the_default() -> None:
    assert load({}, {"DIGEST_STATE": ""}).state == Settings().state


def test_subject_template_with_a_bad_format_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DIGEST_SUBJECT"):
        load({}, {"DIGEST_SUBJECT": "{count} new ({date:d})"})


def test_subject_counts_every_new_paper_and_follows_the_setting(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    shutil.copy(seeds[3], inbox)
    env = clean_env(DIGEST_SUBJECT="Papers: {count} ({date})", DIGEST_MAX_PAPERS="5")
    done = subprocess.run(
        digest_now(inbox, tmp_path / "s.db", "--out", str(tmp_path / "o")),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    md = next((tmp_path / "o").glob("*.md")).read_text()
    eml = next((tmp_path / "o").glob("*.eml")).read_text()
    assert md.startswith("# Papers: 56 \\(Mar 11\\)") or md.startswith("# Papers: 56 (Mar 11)")
    assert "Subject: Papers: 56 (Mar 11)" in eml


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


def test_check_and_ingest_do_not_hang_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    for command in (["check", str(fifo)], ["ingest", str(fifo), "--state", str(tmp_path / "s")]):
        done = subprocess.run(
            [sys.executable, "-m", "digest", *command],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1
        assert "not a regular file" in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


def test_subject_of_a_digest_uses_the_template() -> None:
    from datetime import UTC, datetime

    from digest.models import Digest, Paper

    d = Digest((Paper("A", "b"),), created=datetime(2025, 3, 12, tzinfo=UTC))
    assert subject(d, "{count} new\r\nBcc: x") == "1 new Bcc: x"  # one line, always
