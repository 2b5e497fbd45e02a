"""Each reader's chat messages are retried like mail, on every state backend: a real HTTP
receiver on loopback (Apprise's json://) that refuses for now then takes it, or refuses for
good, beside a real SMTP server; the pending chat kept in the state across closing it, a
second `digest now` and the service's looks; one service sends it, once; and the mail is
delivered and recorded whatever the chat does."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from digest import config
from digest.channels import deliverer
from digest.channels.base import Retrying
from digest.cli import main
from digest.pipeline import run_once
from digest.service.service import Service
from digest.state import open as open_state
from tests.channels.test_notify import REAL, Chat, chat
from tests.mailserver import Server, smtp_server
from tests.processes import clean_env, digest_now
from tests.service.test_service import Serve, serves, until

__all__ = ["chat", "serves"]  # fixtures shared with test_notify and test_service

LATER = timedelta(minutes=1)  # past the first retry (DIGEST_RETRY_SECONDS=2)


class Setup:
    """A readers file whose reader's chat is `path` on the receiver, an inbox with a real
    day, a state of one backend, a real SMTP server."""

    def __init__(
        self, tmp_path: Path, location: object, server: Server, chat: Chat, path: str
    ) -> None:
        self.port, self.got = chat
        notify = self.url(path)
        self.inbox = tmp_path / "inbox"
        self.inbox.mkdir(exist_ok=True)
        shutil.copy(REAL / "2025-03-18.json", self.inbox)
        self.file = tmp_path / "readers.toml"
        self.file.write_text(f'[[reader]]\nemail = "ann@example.org"\nnotify = "{notify}"\n')
        self.env = {
            **server.environment(),
            "DIGEST_INBOX": str(self.inbox),
            "DIGEST_STATE": str(location),
            "DIGEST_READERS": str(self.file),
            "DIGEST_FROM": "papers@example.org",
            "DIGEST_DELIVER": "smtp",
            "DIGEST_RETRY_SECONDS": "2",
        }
        self.settings = config.load({}, self.env, delivering=True)
        self.server = server

    def url(self, path: str) -> str:
        """The receiver's URL for `path` (its first part: the statuses it answers)."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def first(self) -> datetime:
        """The first run, now (as `digest now`): when it was."""
        start = datetime.now(UTC)
        self.run(start)
        return start

    def run(self, now: datetime, *, scheduled: bool = False) -> None:
        """A run (as `digest now`; `scheduled`, as the service's), on the state opened anew."""
        with open_state(self.settings.state) as store:
            run_once(
                self.settings,
                store,
                deliverer(self.settings, dry_run=False),
                now,
                retry_all=not scheduled,
            )

    def counts(self) -> dict[str, int]:
        """The chats pending and failed, read from the state opened anew."""
        with open_state(self.settings.state) as store:
            return store.chat_counts()

    def status(self, capsys: pytest.CaptureFixture[str]) -> str:
        """What `digest status` says of the state."""
        capsys.readouterr()
        assert main(["status", "--state", str(self.settings.state)]) == 0
        return capsys.readouterr().out

    def mail_recorded(self) -> list[str]:
        """The outbox's digests by status, read from the state opened anew."""
        with open_state(self.settings.state) as store:
            return [d.status for d in store.recent(bare=True)]


@pytest.fixture
def server() -> Iterator[Server]:
    with smtp_server() as running:
        yield running


@pytest.mark.slow
def test_a_chat_refused_for_now_is_kept_and_sent_on_its_retry_exactly_once(
    location: object,
    chat: Chat,
    server: Server,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = Setup(tmp_path, location, server, chat, "503-200/ann")
    start, got = setup.first(), setup.got
    assert [m.recipients for m in server.received] == [["ann@example.org"]]
    assert setup.mail_recorded() == ["sent"]  # the mail is delivered, whatever the chat did
    assert [path for path, _, _ in got] == ["/503-200/ann"]
    assert setup.counts() == {"pending": 1, "failed": 0}  # kept in the state, closed since
    [said] = [r.getMessage() for r in caplog.records if "HTTP 503" in r.getMessage()]
    assert f"{setup.file}:1: reader ann@example.org: notify" in said
    assert "tried again in 2s" in said
    assert "chat messages: 1 pending (tried again when due), 0 failed" in setup.status(capsys)
    setup.run(start, scheduled=True)  # before its backoff passed: not yet
    assert len(got) == 1
    setup.run(start + LATER, scheduled=True)  # due: sent, and taken
    assert [path for path, _, _ in got] == ["/503-200/ann"] * 2
    assert got[0][2] == got[1][2]  # the same message
    assert setup.counts() == {"pending": 0, "failed": 0}
    assert "chat messages:" not in setup.status(capsys)
    setup.run(start + LATER * 100)  # as `digest now`, which retries whatever is pending
    assert len(got) == 2  # never sent twice once taken
    assert len(server.received) == 1 and setup.mail_recorded() == ["sent"]


@pytest.mark.slow
def test_a_chat_refused_for_good_is_recorded_and_logged_once_and_never_tried_again(
    location: object,
    chat: Chat,
    server: Server,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = Setup(tmp_path, location, server, chat, "404/ann")
    start, got = setup.first(), setup.got
    assert len(server.received) == 1 and setup.mail_recorded() == ["sent"]
    assert setup.counts() == {"pending": 0, "failed": 1}
    assert "chat messages: 0 pending (tried again when due), 1 failed" in setup.status(capsys)
    setup.run(start + LATER * 100)
    setup.run(start + LATER * 100, scheduled=True)
    assert len(got) == 1
    lines = [r.getMessage() for r in caplog.records if "notify" in r.getMessage()]
    assert len(lines) == 1
    assert f"{setup.file}:1: reader ann@example.org: notify" in lines[0]
    assert "refused the message (HTTP 404)" in lines[0] and "not tried again" in lines[0]
    assert len(server.received) == 1 and setup.mail_recorded() == ["sent"]


@pytest.mark.slow
def test_a_pending_chat_is_sent_by_the_next_digest_now_process(
    location: object, chat: Chat, server: Server, tmp_path: Path
) -> None:
    setup, got = Setup(tmp_path, location, server, chat, "503-200/ann"), chat[1]
    env = clean_env(**setup.env)
    said = []
    for _ in range(2):
        done = subprocess.run(
            digest_now(setup.inbox, location),  # type: ignore[arg-type]
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr  # the mail went: the run is a success
        said.append(done.stderr)
    assert [path for path, _, _ in got] == ["/503-200/ann"] * 2
    assert "(HTTP 503)" in said[0] and "tried again in 2s" in said[0]
    assert "HTTP" not in said[1]
    assert len(server.received) == 1
    assert setup.counts() == {"pending": 0, "failed": 0}


@pytest.mark.slow
def test_a_chat_kept_from_before_is_sent_by_digest_serve_once_due(
    location: object, chat: Chat, server: Server, tmp_path: Path, serves: list[Serve]
) -> None:
    setup = Setup(tmp_path, location, server, chat, "503-200/ann")
    setup.first()
    serve = Serve(tmp_path, setup.inbox, tmp_path / "out", **setup.env, DIGEST_SCHEDULE="0 5 * * *")
    serves.append(serve)
    until(lambda: len(setup.got) == 2, 30, "the chat sent by the service")
    assert serve.stop() == 0
    assert [path for path, _, _ in setup.got] == ["/503-200/ann"] * 2
    assert setup.counts() == {"pending": 0, "failed": 0}
    assert len(server.received) == 1 and setup.mail_recorded() == ["sent"]


@pytest.mark.slow
def test_the_service_sends_a_due_chat_at_its_next_look_and_one_service_sends_it(
    location: object, chat: Chat, server: Server, tmp_path: Path
) -> None:
    """Two services on one state: while one holds a chat (sending it), the other's look
    leaves it; once the first is gone, the other sends it, once."""
    setup = Setup(tmp_path, location, server, chat, "503-200/ann")
    start, got = setup.first(), setup.got
    assert len(got) == 1
    later = start + LATER
    services = [
        Service(
            setup.settings,
            deliverer(setup.settings, dry_run=False),
            CronTrigger(hour=5, timezone=UTC),
            UTC,
            clock=lambda: later,
        )
        for _ in range(2)
    ]
    assert isinstance(services[0].deliverer, Retrying)
    first = open_state(setup.settings.state)
    with open_state(setup.settings.state) as second:
        try:
            [chat_id] = first.chats_due(later)
            assert first.claim_chat(chat_id, later) is not None  # the first is sending it
            services[1].poll(second)
            assert len(got) == 1
        finally:
            first.close()  # its process died mid-send: its claim goes with it
        services[1].poll(second)
        assert [path for path, _, _ in got] == ["/503-200/ann"] * 2
        services[0].poll(second)
        assert len(got) == 2
    assert setup.counts() == {"pending": 0, "failed": 0}
    assert len(server.received) == 1 and setup.mail_recorded() == ["sent"]


@pytest.mark.slow
def test_a_chat_whose_url_left_the_readers_file_is_not_sent(
    location: object, chat: Chat, server: Server, tmp_path: Path
) -> None:
    """The URL stays in the readers file, not the state: a reader who took it out (or
    changed it) gets nothing more there, and the chat is failed, not kept for ever."""
    setup = Setup(tmp_path, location, server, chat, "503-200/ann")
    start, got = setup.first(), setup.got
    setup.file.write_text(f'[[reader]]\nemail = "ann@example.org"\nnotify = "{setup.url("200")}"\n')
    setup.run(start + LATER)
    assert [path for path, _, _ in got] == ["/503-200/ann"]
    assert setup.counts() == {"pending": 0, "failed": 1}


@pytest.mark.slow
def test_a_look_stops_after_several_chats_in_a_row_failed_for_now(
    location: object, chat: Chat, server: Server, tmp_path: Path
) -> None:
    """A receiver that fails every chat costs a look three attempts, not one a chat kept."""
    setup, got = Setup(tmp_path, location, server, chat, "503/ann"), chat[1]
    setup.file.write_text(
        "".join(
            f'[[reader]]\nemail = "{name}@example.org"\nnotify = "{setup.url("503")}"\n'
            for name in ("ann", "bob", "cy", "dee")
        )
    )
    start = setup.first()
    assert len(server.received) == 4 and len(got) == 4  # each mail, then its chat
    setup.run(start + LATER, scheduled=True)
    assert len(got) == 4 + 3
    assert setup.counts() == {"pending": 4, "failed": 0}


@pytest.mark.slow
def test_a_readers_chat_kept_for_later_is_sent_through_the_channels_beside_the_mail_too(
    location: object, chat: Chat, server: Server, tmp_path: Path
) -> None:
    from digest.channels.beside import Beside

    setup = Setup(tmp_path, location, server, chat, "503-200/ann")
    start = setup.first()
    beside = Beside(deliverer(setup.settings, dry_run=False), [])
    with open_state(setup.settings.state) as store:
        beside.retry_due(store, start + LATER)
    assert [path for path, _, _ in setup.got] == ["/503-200/ann"] * 2


@pytest.mark.slow
def test_a_chat_that_fails_again_is_left_for_any_service_to_try_when_due(
    location: object, chat: Chat, server: Server, tmp_path: Path
) -> None:
    """A service that stays up keeps no hold on a chat it tried: when it is due again,
    another service sharing the state may send it."""
    setup = Setup(tmp_path, location, server, chat, "503/ann")
    start = setup.first()
    one, other = (deliverer(setup.settings, dry_run=False) for _ in range(2))
    assert isinstance(one, Retrying) and isinstance(other, Retrying)
    with open_state(setup.settings.state) as first, open_state(setup.settings.state) as second:
        one.retry_due(first, start + LATER)
        assert len(setup.got) == 2  # failed again, and `first` stays open
        other.retry_due(second, start + LATER * 10)
        assert len(setup.got) == 3


@pytest.mark.slow
def test_a_chat_whose_last_attempts_left_no_outcome_is_held_not_sent_again(
    location: object, chat: Chat, server: Server, tmp_path: Path
) -> None:
    """Two attempts whose process died before recording what came of them (so the receiver
    may have it): the chat is failed with a line saying so, never sent a third time."""
    setup = Setup(tmp_path, location, server, chat, "503-200/ann")
    start = setup.first()
    with open_state(setup.settings.state) as store:
        [chat_id] = store.chats_due(start + LATER)
        for _ in range(2):  # what two processes killed mid-send leave behind
            store.chat_attempt(chat_id, start)
    setup.run(start + LATER)
    assert len(setup.got) == 1
    assert setup.counts() == {"pending": 0, "failed": 1}
