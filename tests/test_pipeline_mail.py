"""Mail delivery through the outbox, with a real SMTP server that goes down, refuses, or is
cut off after accepting: every paper arrives, none twice."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import config
from digest.channels import EVERYTHING
from digest.channels.smtp import SmtpDeliverer
from digest.cli import main
from digest.models import Outgoing
from digest.pipeline import run_once
from digest.state import open as open_state
from tests.mailserver import Handler, Received, free_port, smtp_server
from tests.processes import clean_env, digest_now

NOW = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)
ENV = {
    "DIGEST_FROM": "Daily Papers <papers@example.org>",
    "DIGEST_TO": "Ann <ann@example.org>, Bob <bob@example.org>",
}


@pytest.fixture
def settings(inbox: Path, tmp_path: Path) -> config.Settings:
    return config.load(
        {"inbox": inbox, "state": tmp_path / "state.sqlite3"},
        {**ENV, "DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_SECURITY": "none"},
    )


def smtp(port: int) -> SmtpDeliverer:
    return SmtpDeliverer("127.0.0.1", port, security="none", timeout=5)


def titles_in(received: Received) -> list[str]:
    """Every paper title a received digest carries, from its complete attachment or, when
    there is none, its text part."""
    msg = received.message
    attachments = list(msg.iter_attachments())
    body = attachments[0] if attachments else msg.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    if attachments:
        return re.findall(r"^## \d+\. (.+?)\r?$", content, flags=re.M)
    papers = content.split("=" * 72)[-1]  # past the overview of matches and top papers
    found = re.findall(r"^ *\d+\. (.+?)\n {5}\S", papers, re.M | re.S)
    return [" ".join(t.split()) for t in found]


class CrashAfterSending:
    """Delivers, then dies before the outcome is recorded: the process killed between the
    server's acceptance and our record of it."""

    needs = EVERYTHING

    def __init__(self, inner: SmtpDeliverer) -> None:
        self.inner = inner

    def deliver(self, outgoing: Outgoing) -> str:
        self.inner.deliver(outgoing)
        raise SystemExit("killed")


def test_server_down_for_two_runs_then_back_every_paper_arrives_once(
    settings: config.Settings, inbox: Path, seeds: list[Path]
) -> None:
    with open_state(settings.state) as store:
        down = smtp(free_port())
        shutil.copy(seeds[0], inbox)
        report = run_once(settings, store, down, NOW)
        assert report.pending == 1 and "cannot reach the mail server" in report.failed[0]
        shutil.copy(seeds[1], inbox)
        report = run_once(settings, store, down, NOW)
        assert report.pending == 2
        counts = store.counts()
        assert counts["papers_seen"] == 0 and counts["papers_pending"] > 0
        pending = store.outgoing(status="pending")
        assert [d.attempts for d in pending] == [2, 1]

        with smtp_server() as server:
            report = run_once(settings, store, smtp(server.port), NOW)
        assert report.ok and len(report.delivered) == 2
        assert store.counts()["papers_pending"] == 0

    received = server.received
    assert [r.message["Message-ID"] for r in received] == [d.message_id for d in pending]
    assert [r.data.rstrip() for r in received] == [d.eml.rstrip() for d in pending]  # type: ignore[union-attr]
    titles = [t for r in received for t in titles_in(r)]
    assert len(titles) == len(set(titles)) == counts["papers_pending"]


def test_a_crash_after_the_server_accepted_resends_the_same_message(
    settings: config.Settings, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[3], inbox)
    with smtp_server() as server, open_state(settings.state) as store:
        with pytest.raises(SystemExit):
            run_once(settings, store, CrashAfterSending(smtp(server.port)), NOW)
        [pending] = store.outgoing(status="pending")
        assert store.counts()["papers_seen"] == 0

        report = run_once(settings, store, smtp(server.port), NOW)
        assert report.ok
        assert store.get(pending.id).status == "sent"  # type: ignore[union-attr]
    first, second = server.received
    assert first.message["Message-ID"] == second.message["Message-ID"] == pending.message_id
    assert first.data == second.data  # a client can tell it is the same message


def test_a_refused_digest_is_failed_never_seen_and_resendable(
    settings: config.Settings,
    inbox: Path,
    seeds: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copy(seeds[3], inbox)
    refusing = Handler(data_reply="550 5.7.1 Refused by policy")
    with smtp_server(refusing) as server, open_state(settings.state) as store:
        report = run_once(settings, store, smtp(server.port), NOW)
        assert not report.ok and report.pending == 0
        [failed] = store.outgoing(status="failed")
        assert "550 5.7.1 Refused by policy" in (failed.last_error or "")
        assert store.counts()["papers_seen"] == 0
        # The next run does not retry it by itself.
        run_once(settings, store, smtp(server.port), NOW)
        assert store.get(failed.id).status == "failed"  # type: ignore[union-attr]

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    state = ["--state", str(settings.state)]
    assert main(["status", *state]) == 0
    out = capsys.readouterr().out
    assert f"failed: digest {failed.id} " in out
    assert f"send it again with `digest resend {failed.id}`" in out
    assert "550 5.7.1 Refused by policy" in out

    with smtp_server() as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        assert main(["resend", str(failed.id), *state]) == 0
    [got] = server.received
    assert got.message["Message-ID"] == failed.message_id
    with open_state(settings.state) as store:
        assert store.get(failed.id).status == "sent"  # type: ignore[union-attr]
        assert store.counts()["papers_pending"] == 0


def test_421_keeps_it_pending_with_a_backoff_shown_in_status(
    settings: config.Settings,
    inbox: Path,
    seeds: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copy(seeds[3], inbox)
    busy = Handler(data_reply="421 4.7.0 Try again later")
    with smtp_server(busy) as server, open_state(settings.state) as store:
        report = run_once(settings, store, smtp(server.port), NOW)
        # The service retries only what is due: not yet.
        run_once(settings, store, smtp(server.port), NOW, retry_all=False)
        [pending] = store.outgoing(status="pending")
    assert report.pending == 1 and pending.attempts == 1
    assert pending.next_attempt is not None and pending.next_attempt > NOW
    assert main(["status", "--state", str(settings.state)]) == 0
    out = capsys.readouterr().out
    assert f"pending: digest {pending.id} " in out and "next try after" in out
    assert "421 4.7.0 Try again later" in out


def test_a_refused_recipient_is_noted_and_can_be_sent_the_digest_again(
    settings: config.Settings,
    inbox: Path,
    seeds: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copy(seeds[3], inbox)
    handler = Handler(refuse_rcpt={"bob@example.org": "550 5.2.2 Mailbox full"})
    with smtp_server(handler) as server, open_state(settings.state) as store:
        report = run_once(settings, store, smtp(server.port), NOW)
        assert report.ok
        [sent] = store.outgoing(status="sent")
        assert store.counts()["papers_pending"] == 0
    assert "refused: bob@example.org (550 5.2.2 Mailbox full)" in (sent.delivery_note or "")
    assert main(["status", "--state", str(settings.state)]) == 0
    assert "refused: bob@example.org (550 5.2.2 Mailbox full)" in capsys.readouterr().out

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with smtp_server() as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        code = main(
            ["resend", str(sent.id), "--to", "bob@example.org", "--state", str(settings.state)]
        )
    assert code == 0
    [got] = server.received
    assert got.recipients == ["bob@example.org"]
    assert got.message["Message-ID"] == sent.message_id


class RefusesThenHangs(Handler):
    """Refuses the first readers' addresses for good, then takes its time over the next, for
    as long as the test likes."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.seen = 0
        self.hanging = threading.Event()

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        self.seen += 1
        if self.seen <= self.refusals:
            return "550 5.1.1 No such user here"
        self.hanging.set()
        await asyncio.sleep(30)
        return "451 4.3.0 Too late"


@pytest.mark.slow
def test_each_failed_delivery_is_logged_as_it_happens_even_in_a_run_killed_later(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    shutil.copy(seeds[3], inbox)
    readers = tmp_path / "readers.toml"
    readers.write_text("".join(f'[[reader]]\nemail = "r{i}@example.org"\n\n' for i in range(6)))
    handler = RefusesThenHangs(4)
    log = tmp_path / "stderr.log"
    with smtp_server(handler) as server, log.open("w") as stderr:
        env = {**server.environment(), "DIGEST_FROM": "papers@example.org",
               "DIGEST_READERS": str(readers), "DIGEST_SMTP_TIMEOUT": "60"}  # fmt: skip
        run = subprocess.Popen(
            digest_now(inbox, tmp_path / "state.sqlite3"),
            stderr=stderr,
            env=clean_env(**env),
            cwd=tmp_path,
        )
        try:
            assert handler.hanging.wait(60), log.read_text()
        finally:
            run.kill()  # no chance to say anything more
            run.wait()
    lines = [line for line in log.read_text().splitlines() if "refused every recipient" in line]
    refused = sorted(
        re.findall(r"(r\d@example\.org) \(550 5\.1\.1 No such user here\)", "\n".join(lines))
    )
    assert len(lines) == len(refused) == 4, log.read_text()
    for line in lines:  # one line a reader, naming only them
        assert len(re.findall(r"r\d@example\.org", line)) == 1
        assert line.startswith("digest: digest ") and " failed: " in line
