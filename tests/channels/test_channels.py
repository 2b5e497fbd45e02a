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
from digest.channels import ALL_FORMATS, CHANNELS, EVERYTHING
from digest.channels.base import Deliverer
from digest.channels.files import FilesDeliverer
from digest.channels.preview import PreviewDeliverer
from digest.channels.stdout import StdoutDeliverer
from digest.config import Settings
from digest.errors import TransientDeliveryError
from digest.identity.keys import title_key
from digest.letters import outgoing
from digest.models import Digest, Paper
from digest.render import FORMATS
from digest.service.service import describe_delivery
from tests.processes import clean_env, digest_now, paper_keys, pending_digests
from tests.service.test_service import SEEDS

WHEN = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


def status(state: Path) -> str:
    return subprocess.run(
        [sys.executable, "-m", "digest", "status", "--state", str(state)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    ).stdout


REAL_DAY = Path(__file__).parent.parent / "fixtures" / "real" / "2025-07-22.json"  # 38 KB as text
LARGE = tuple(SEEDS[:4])  # far more than a pipe holds


def _piped(inbox: Path, state: Path, reader: str, **env: str) -> tuple[str, list[str]]:
    """`digest now --deliver stdout` into `reader` in a real shell pipeline: its exit status
    and the lines it wrote on stderr."""
    command = " ".join(digest_now(inbox, state, "--deliver", "stdout", "--quiet"))
    shell = subprocess.run(
        ["bash", "-c", reader.replace("{digest}", command) + "; echo ${PIPESTATUS[0]} >&2"],
        capture_output=True,
        text=True,
        env=clean_env(**env),
        timeout=60,
    )
    *lines, code = shell.stderr.splitlines()
    return code, lines


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dumps", "reader", "env", "why"),
    [
        # takes 10 bytes, then hangs up
        (LARGE, "PYTHONUNBUFFERED=1 {digest} | head -c 10 >/dev/null", {}, "Broken pipe"),
        (LARGE, "{digest} | head -c 10 >/dev/null", {}, "Broken pipe"),
        (LARGE, "{digest} | true", {}, "Broken pipe"),  # never reads: a broken pipe
        (LARGE, "{digest} >&-", {}, "standard output is closed"),  # none at all
        # A day's digest fits in the pipe's buffer: written at once, whatever the reader does.
        ((REAL_DAY,), "PYTHONUNBUFFERED=1 {digest} | head -c 10 >/dev/null", {}, "stopped before"),
        ((REAL_DAY,), "{digest} | head -c 10 >/dev/null", {}, "stopped before"),
        # holds the pipe open, reads nothing in time (all of it once digest ended): still
        # not delivered
        (
            (REAL_DAY,),
            "( {digest}; s=$?; touch {ended}; exit $s )"
            " | { until [ -e {ended} ]; do sleep 0.05; done; cat >/dev/null; }",
            {"DIGEST_STDOUT_WAIT": "0.2"},
            "took 0 of",
        ),
    ],
)
def test_stdout_delivery_counts_only_once_the_reader_has_every_byte(
    inbox: Path, tmp_path: Path, dumps: tuple[Path, ...], reader: str, env: dict[str, str], why: str
) -> None:
    for dump in dumps:
        shutil.copy(dump, inbox)
    state = tmp_path / "state.sqlite3"
    code, lines = _piped(inbox, state, reader.replace("{ended}", str(tmp_path / "ended")), **env)
    assert code == "1"
    assert len(lines) == 1 and "not delivered yet, will retry: cannot" in lines[0]
    assert why in lines[0]
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
    assert {title_key(p["title"]) for p in delivered["papers"]} == paper_keys(*dumps)
    assert pending_digests(state) == 0


@pytest.mark.parametrize(
    "reader",
    [
        "{digest} | cat > {out}",
        "{digest} | { sleep 0.5; cat > {out}; }",  # slow to start, but reads it all
        "{digest} > {out}",  # a file: delivered once written
    ],
)
@pytest.mark.slow
def test_a_digest_read_whole_through_a_pipe_is_delivered(
    inbox: Path, tmp_path: Path, reader: str
) -> None:
    shutil.copy(REAL_DAY, inbox)
    state, out = tmp_path / "state.sqlite3", tmp_path / "read.txt"
    code, lines = _piped(inbox, state, reader.replace("{out}", str(out)))
    assert (code, lines) == ("0", [])
    assert pending_digests(state) == 0
    assert f"papers seen: {len(paper_keys(REAL_DAY))};" in status(state)
    assert out.read_text(encoding="utf-8").count("https://arxiv.org/abs/") >= len(
        paper_keys(REAL_DAY)
    )


@pytest.mark.parametrize(("taken", "delivered"), [(None, True), (10, False)])
def test_a_socket_on_stdout_counts_only_once_its_reader_took_every_byte(
    taken: int | None, delivered: bool
) -> None:
    """Standard output may be a socket (a service manager's, inetd's): what sits in it
    unread when its reader hangs up is lost, as in a pipe."""
    import socket
    import threading

    digest = Digest((Paper("A title", "An abstract. " * 2000),), created=WHEN)
    item = outgoing(digest, Settings(), "example.org", needs=ALL_FORMATS)
    ours, theirs = socket.socketpair()
    got = bytearray()

    def read() -> None:
        with theirs:
            if taken is None:  # all of it
                while chunk := theirs.recv(65536):
                    got.extend(chunk)
            else:
                got.extend(theirs.recv(taken) if taken else b"")

    reader = threading.Thread(target=read)
    reader.start()
    with ours, ours.makefile("w", encoding="utf-8") as stream:
        deliverer = StdoutDeliverer("text", stream, wait=10)
        if delivered:
            assert deliverer.deliver(item) == "printed to standard output"
            ours.shutdown(socket.SHUT_WR)  # the reader's end of file
        else:
            with pytest.raises(TransientDeliveryError, match="its reader stopped before"):
                deliverer.deliver(item)
    reader.join(10)
    assert (bytes(got) == item.part("text").encode()) is delivered


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


@pytest.mark.slow
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
