"""A dump that cannot be read is always told to the reader: in the next digest delivered,
in `status` until then, and by the exit status of every command that met it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SEEDS
from processes import clean_env, digest_now

BROKEN = b'[{"paper": {"id": "2501.00001", "title": "Cut off'  # a download cut short


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=clean_env(), timeout=60
    )


def _status(state: Path) -> str:
    result = _run(sys.executable, "-m", "digest", "status", "--state", state)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_rejected_dump_alone_is_named_in_the_next_digest(inbox: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    (inbox / "broken.json").write_bytes(BROKEN)
    alone = _run(*digest_now(inbox, state, "--out", str(out)))
    assert alone.returncode == 1, alone.stderr
    assert "broken.json" in alone.stderr
    assert "no unread dumps" not in alone.stderr
    assert "Traceback" not in alone.stderr
    assert "broken.json" in _status(state)
    assert "to be named in the next digest" in _status(state)

    # Asked again with nothing else new: still nothing to tell, and no second complaint.
    again = _run(*digest_now(inbox, state, "--out", str(out)))
    assert again.returncode == 0, again.stderr

    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", inbox / "001.txt")
    digest = _run(*digest_now(inbox, state, "--out", str(out)))
    assert digest.returncode == 0, digest.stderr
    (report,) = out.glob("*.json")
    rejected = json.loads(report.read_text(encoding="utf-8"))["rejected"]
    assert [r["file"] for r in rejected] == ["broken.json"]
    assert "broken.json" in next(out.glob("*.txt")).read_text(encoding="utf-8")
    assert "broken.json" in next(out.glob("*.html")).read_text(encoding="utf-8")
    # Told once: the status no longer waits to tell it, and the next digest does not repeat it.
    assert "to be named in the next digest" not in _status(state)
    assert "rejected: broken.json" in _status(state)
    shutil.copy(SEEDS / "002_ad28794d56ee46c0.txt", inbox / "002.txt")
    later = _run(
        *digest_now(inbox, state, "--out", str(out), "--deliver", "stdout", "--format", "json")
    )
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["rejected"] == []


def test_a_digest_not_delivered_has_not_told_it(inbox: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    (inbox / "broken.json").write_bytes(BROKEN)
    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", inbox / "001.txt")
    # A dry run shows what the digest would say, and records nothing.
    dry = _run(*digest_now(inbox, state, "--dry-run", "--deliver", "stdout", "--format", "json"))
    assert json.loads(dry.stdout)["rejected"][0]["file"] == "broken.json"
    real = _run(*digest_now(inbox, state, "--deliver", "stdout", "--format", "json"))
    assert real.returncode == 1, real.stderr  # it met an unreadable dump
    assert json.loads(real.stdout)["rejected"][0]["file"] == "broken.json"
    assert "to be named in the next digest" not in _status(state)


def test_now_check_and_ingest_agree_on_the_exit_status(inbox: Path, tmp_path: Path) -> None:
    bad = inbox / "broken.json"
    bad.write_bytes(BROKEN)
    state = tmp_path / "state.sqlite3"
    check = _run(sys.executable, "-m", "digest", "check", bad)
    ingest = _run(sys.executable, "-m", "digest", "ingest", "--state", tmp_path / "i.sqlite3", bad)
    now = _run(*digest_now(inbox, state, "--out", str(tmp_path / "out")))
    assert (check.returncode, ingest.returncode, now.returncode) == (1, 1, 1)
    for result in (check, ingest, now):
        assert "broken.json" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    good = SEEDS / "001_a508b4c33d36f06c.txt"
    check = _run(sys.executable, "-m", "digest", "check", good)
    ingest = _run(sys.executable, "-m", "digest", "ingest", "--state", tmp_path / "i.sqlite3", good)
    assert (check.returncode, ingest.returncode) == (0, 0)


def test_a_digest_refused_for_good_has_not_told_it(inbox: Path, tmp_path: Path) -> None:
    from mailserver import Handler, smtp_server

    state = tmp_path / "state.sqlite3"
    (inbox / "broken.json").write_bytes(BROKEN)
    shutil.copy(SEEDS / "001_a508b4c33d36f06c.txt", inbox / "001.txt")
    mail = {"DIGEST_FROM": "papers@example.org", "DIGEST_TO": "ann@example.org"}
    command = [sys.executable, "-m", "digest", "now", "--inbox", str(inbox), "--state", str(state)]
    with smtp_server(Handler(data_reply="554 5.7.1 refused")) as server:
        env = clean_env(**mail, **server.environment())
        refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "to be named in the next digest" in _status(state)

    shutil.copy(SEEDS / "002_ad28794d56ee46c0.txt", inbox / "002.txt")
    with smtp_server() as server:
        env = clean_env(**mail, **server.environment())
        sent = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert sent.returncode == 0, sent.stderr
        (message,) = server.received
    text = message.message.get_body(("plain",))
    assert text is not None and "broken.json" in text.get_content()
    assert "to be named in the next digest" not in _status(state)
