"""Standard output and files as the real `digest now` delivers to them: a digest counts as
delivered only once all of it was written, and an earlier digest's files are never replaced."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import channels, config
from digest.channels import CHANNELS, EVERYTHING
from digest.channels.base import Deliverer
from digest.channels.files import FilesDeliverer
from digest.channels.preview import PreviewDeliverer
from digest.channels.stdout import StdoutDeliverer
from digest.config import Settings
from digest.identity.keys import title_key
from digest.letters import outgoing
from digest.models import Digest, Paper
from digest.render import FORMATS
from digest.service.service import describe_delivery
from tests.processes import clean_env, digest_now, paper_keys, pending_digests
from tests.test_service import SEEDS

WHEN = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


def status(state: Path) -> str:
    return subprocess.run(
        [sys.executable, "-m", "digest", "status", "--state", str(state)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    ).stdout


@pytest.mark.parametrize(
    "reader",
    [
        "PYTHONUNBUFFERED=1 {digest} | head -c 10 >/dev/null",  # takes 10 bytes, then hangs up
        "{digest} | head -c 10 >/dev/null",
        "{digest} | true",  # never reads: a broken pipe
        "{digest} >&-",  # no standard output at all
    ],
)
def test_stdout_delivery_counts_only_once_every_byte_was_written(
    inbox: Path, tmp_path: Path, reader: str
) -> None:
    for seed in SEEDS[:4]:  # far more than a pipe holds
        shutil.copy(seed, inbox)
    state = tmp_path / "state.sqlite3"
    command = " ".join(digest_now(inbox, state, "--deliver", "stdout", "--quiet"))
    shell = subprocess.run(
        ["bash", "-c", reader.format(digest=command) + "; echo ${PIPESTATUS[0]} >&2"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    *lines, code = shell.stderr.splitlines()
    assert code == "1"
    assert len(lines) == 1 and "not delivered yet, will retry: cannot write the digest" in lines[0]
    assert pending_digests(state) == 1
    assert "papers seen: 0;" in status(state)

    whole = subprocess.run(
        digest_now(inbox, state, "--deliver", "stdout", "--format", "json"),
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    assert whole.returncode == 0, whole.stderr
    delivered = json.loads(whole.stdout)  # the pending digest, whole this time
    assert {title_key(p["title"]) for p in delivered["papers"]} == paper_keys(*SEEDS[:4])
    assert pending_digests(state) == 0


def test_json_on_stdout_with_nothing_new_is_an_empty_digest(inbox: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    piped = subprocess.run(  # a pipe, as to jq: one document whatever the day brought
        digest_now(inbox, state, "--deliver", "stdout", "--format", "json"),
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    empty = json.loads(piped.stdout)
    assert empty["papers"] == [] and empty["stats"]["new"] == 0
    assert pending_digests(state) == 0


def test_a_reset_state_never_overwrites_an_earlier_digests_files(
    inbox: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"

    def run(state: Path) -> None:
        done = subprocess.run(
            digest_now(inbox, state, "--out", str(out)),
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    shutil.copy(SEEDS[0], inbox)
    run(tmp_path / "state.sqlite3")
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(first) == 5 and all("-0001." in name for name in first)
    shutil.copy(SEEDS[1], inbox)
    run(tmp_path / "fresh.sqlite3")  # a new state file: digest 1 again, the same day
    now = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {n: now[n] for n in first} == first  # the earlier digest's files, untouched
    later = sorted(set(now) - set(first))
    assert len(later) == 5 and all("-0001-2." in name for name in later)
    papers = [len(json.loads(now[n])["papers"]) for n in (*first, *later) if n.endswith(".json")]
    assert papers == [len(paper_keys(SEEDS[0])), len(paper_keys(SEEDS[0], SEEDS[1]))]


# -- the registry: one module a channel, a runtime protocol ------------------------------------


@pytest.mark.parametrize(
    ("deliver", "dry_run", "kind", "described"),
    [
        ("files", False, "FilesDeliverer", "files in {out}"),
        ("stdout", False, "StdoutDeliverer", "standard output"),
        ("stdout", True, "StdoutDeliverer", "standard output"),  # printing records nothing
        ("smtp", False, "SmtpDeliverer", "smtp"),
        ("files", True, "PreviewDeliverer", "files in {out}"),
        ("smtp", True, "PreviewDeliverer", "smtp"),
    ],
)
def test_every_channel_is_built_through_the_registry_and_is_a_deliverer(
    tmp_path: Path, deliver: str, dry_run: bool, kind: str, described: str
) -> None:
    settings = Settings(
        inbox=tmp_path / "inbox", out=tmp_path / "out", deliver=deliver, smtp_host="mail.test"
    )
    built = channels.deliverer(settings, dry_run=dry_run)
    assert isinstance(built, Deliverer) and type(built).__name__ == kind
    assert built.needs <= EVERYTHING and built.needs
    assert describe_delivery(settings) == described.format(out=tmp_path / "out")


def test_the_protocol_is_checked_at_run_time() -> None:
    class Mute:
        def deliver(self, outgoing: object) -> str:
            return "nothing"

    assert not isinstance(Mute(), Deliverer)  # it does not say what it needs


def test_each_channel_declares_settings_that_exist_and_the_cli_offers_every_channel() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    for name in [*CHANNELS, "preview"]:
        declared = channels.channel(name)
        assert declared.name == name and declared.settings
        assert set(declared.settings) <= fields, name
    assert tuple(CHANNELS) == config.DELIVERIES


@pytest.mark.parametrize(
    ("fmt", "mailed", "needs"),
    [
        ("markdown", False, {"markdown"}),
        ("json", True, {"json"}),
        ("html", True, {"eml"}),  # the mail's own HTML part, exactly as sent
        ("text", False, {"text"}),
    ],
)
def test_a_dry_run_makes_only_what_its_preview_shows(
    tmp_path: Path, fmt: str, mailed: bool, needs: set[str]
) -> None:
    preview = PreviewDeliverer(tmp_path, fmt, mailed=mailed)
    assert preview.needs == needs
    digest = Digest((Paper("A title", "An abstract."),), created=WHEN)
    item = outgoing(digest, Settings(), "example.org", needs=preview.needs)
    made = {f for f in FORMATS if item.part(f)} | ({"eml"} if item.eml else set())
    assert made == needs


def test_stdout_and_files_keep_what_later_runs_may_ask_for(tmp_path: Path) -> None:
    """A pending digest may be printed later in another --format or resent as files: stdout
    keeps every format (not the mail, which it never sends); files and smtp keep all."""
    assert StdoutDeliverer("markdown").needs == set(FORMATS)
    assert FilesDeliverer(tmp_path).needs == EVERYTHING
    digest = Digest((Paper("A title", "An abstract."),), created=WHEN)
    item = outgoing(digest, Settings(), "example.org", needs=StdoutDeliverer("json").needs)
    assert all(item.part(f) for f in FORMATS) and item.eml is None
