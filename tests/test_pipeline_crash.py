"""Kill a real `digest now` at random moments while a real, slow mail server goes up and
down: every paper arrives, and a paper arrives twice only in a resent copy of the same
message (same Message-ID), when a kill fell between the server's acceptance and our record
(twice in a row, and the digest is held until the operator sends it again)."""

from __future__ import annotations

import contextlib
import html
import random
import shutil
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from digest.formats import parse
from digest.identity.keys import title_key
from digest.state import open as open_state
from tests.mailserver import Handler, free_port, smtp_server
from tests.processes import clean_env, digest_now, integrity, pending_digests

ROUNDS = 40


# digest runs in child processes here; the only sockets in this process are the test mail
# server's, which may drop a killed client's connection without closing it first.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_kills_and_an_unsteady_mail_server_lose_nothing(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    port = free_port()
    env = clean_env(
        DIGEST_SMTP_HOST="127.0.0.1",
        DIGEST_SMTP_PORT=str(port),
        DIGEST_SMTP_SECURITY="none",
        DIGEST_SMTP_TIMEOUT="5",
        DIGEST_FROM="Papers <papers@example.org>",
        DIGEST_TO="Ann <ann@example.org>",
    )
    cmd = digest_now(inbox, state, "--quiet")
    handler = Handler(delay=0.3)  # slow enough for kills to land mid-delivery
    rng = random.Random(1125)
    links: dict[str, set[str]] = defaultdict(set)  # every way a paper's link can read
    kills = 0
    pending_seen = 0
    for round_ in range(ROUNDS):
        if round_ % (ROUNDS // len(seeds)) == 0 and round_ // (ROUNDS // len(seeds)) < len(seeds):
            seed = seeds[round_ // (ROUNDS // len(seeds))]
            shutil.copy(seed, inbox)
            for paper in parse(seed.read_bytes(), seed.name).papers:
                links[title_key(paper.title)].add(paper.link)  # as the HTML and Markdown show it
        up = rng.random() < 0.6
        with smtp_server(handler, port=port) if up else contextlib.nullcontext():
            process = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
            try:
                process.wait(timeout=rng.uniform(0.05, 0.6))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
        pending_seen += pending_digests(state) > 0

    with smtp_server(handler, port=port):
        for _ in range(2):  # `digest now` retries the outbox whatever its backoff
            finished = subprocess.run(cmd, env=env, timeout=120, capture_output=True, text=True)
        with open_state(state) as store:
            held = store.outgoing(status="failed", bare=True)
        # Killed twice in a row after the server may have taken it, a digest is held, not sent
        # a third time: its log line says to send it again, and so does the operator.
        assert all("held, not sent again" in (d.last_error or "") for d in held)
        for digest in held:
            resend = [sys.executable, "-m", "digest", "resend", str(digest.id), "--state"]
            again = subprocess.run([*resend, str(state)], env=env, timeout=120, capture_output=True)
            assert again.returncode == 0, again.stderr
        finished = subprocess.run(cmd, env=env, timeout=120, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr

    ids_by_paper: dict[str, set[str]] = defaultdict(set)
    copies_by_paper: dict[str, int] = defaultdict(int)
    for received in handler.received:
        message = received.message
        # The whole digest: the attached Markdown when the mail had to be shortened.
        whole = next(iter(message.iter_attachments()), None) or message.get_body(("html",))
        assert whole is not None
        body = html.unescape(whole.get_content())  # the HTML's links, as written
        for key, variants in links.items():
            if any(link in body for link in variants):
                ids_by_paper[key].add(message["Message-ID"])
                copies_by_paper[key] += 1
    print(
        f"{ROUNDS} rounds, {kills} kills, {pending_seen} left a digest pending,"
        f" {len(handler.received)} messages, {len(held)} held and sent again"
    )
    assert set(ids_by_paper) == set(links)  # every paper arrived
    twice = {t for t, n in copies_by_paper.items() if n > 1}
    assert all(len(ids_by_paper[t]) == 1 for t in twice)  # twice only as the same message
    assert integrity(state) == "ok"
    with open_state(state) as store:
        assert store.counts()["papers_pending"] == 0
