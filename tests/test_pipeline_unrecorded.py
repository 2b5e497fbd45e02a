"""A delivery whose outcome cannot be recorded: the disk fills (a real 8 MB tmpfs holding a
real state file) or the database connection dies (a real PostgreSQL server) just as a real
mail server accepts the message. The attempt is recorded before sending, nothing is sent
when it cannot be, and a message goes once more at most, the same bytes with the same
Message-ID: never a loop, from `digest serve` or from `digest now` run again and again."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from digest.state import open as open_state
from tests.mailserver import Handler, Received, Server, smtp_server
from tests.service.test_service import Serve, serves, until

__all__ = ["serves"]  # the fixture, used by name

SEED = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))[3]
MAIL = {"DIGEST_FROM": "Papers <papers@example.org>", "DIGEST_TO": "Ann <ann@example.org>"}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB file system (tmpfs), where the machine lets us mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


class Accepting(Handler):
    """A mail server that does something to the state at the moment it accepts a message."""

    def __init__(self, then: Callable[[], None]) -> None:
        super().__init__()
        self.then = then
        self.on = True

    def keep(self, received: Received) -> None:
        super().keep(received)
        if self.on:
            self.then()


def filling(disk: Path) -> Callable[[], None]:
    """Fill the disk, to the last block."""

    def fill() -> None:
        try:
            with (disk / "filler").open("ab") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC

    return fill


def free(disk: Path) -> None:
    (disk / "filler").unlink(missing_ok=True)


def now(state: Path | str, inbox: Path, server: Server, **env: str) -> str:
    """`digest now` to this state and mail server; its standard error."""
    run = subprocess.run(
        [sys.executable, "-m", "digest", "now", "--inbox", str(inbox)],
        capture_output=True,
        text=True,
        env={**os.environ, **server.environment(), **MAIL, "DIGEST_STATE": str(state), **env},
        cwd=inbox.parent,
        timeout=60,
    )
    assert "Traceback" not in run.stderr
    return run.stderr


def held(state: Path | str, received: list[Received], said: list[str]) -> None:
    """Digest 1 is held, said in one line, and every copy received is the stored message,
    byte for byte."""
    [line] = [line for text in said for line in text.splitlines() if " held" in line]
    assert "digest 1 held, not sent again: the outcome of its last 2 deliveries" in line
    assert "`digest resend 1` to send it once more" in line
    with open_state(state) as store:
        item = store.get(1)
    assert item is not None and item.status == "failed"
    assert {r.message["Message-ID"] for r in received} == {item.message_id}
    assert len({r.data for r in received}) == 1


@pytest.mark.slow
def test_digest_now_again_and_again_on_a_full_disk_sends_a_message_twice_at_most(
    disk: Path, inbox: Path
) -> None:
    state = disk / "state.sqlite3"
    shutil.copy(SEED, inbox)
    handler = Accepting(filling(disk))
    with smtp_server(handler) as server:
        first = now(state, inbox, server)
        assert len(handler.received) == 1
        for _ in range(2):  # the disk stays full: the attempt cannot be recorded, nothing is sent
            said = now(state, inbox, server)
            assert len(handler.received) == 1
            assert "digest 1 not sent: its attempt could not be recorded" in said
        assert "digest 1 was delivered (mailed to 1 recipient via" in first
        assert "but this could not be recorded (state file" in first
        assert "database or disk is full" in first
        free(disk)
        now(state, inbox, server)  # room for the attempt: sent once more; the disk fills again
        assert len(handler.received) == 2
        said = []
        for _ in range(3):  # however much room there is now, never a third time
            free(disk)
            said.append(now(state, inbox, server))
            assert len(handler.received) == 2
        held(state, handler.received, said)

        handler.on = False  # the disk is fine again: the operator sends it once more
        resend = subprocess.run(
            [sys.executable, "-m", "digest", "resend", "1", "--state", str(state)],
            capture_output=True,
            text=True,
            env={**os.environ, **server.environment(), **MAIL},
            timeout=60,
        )
        assert resend.returncode == 0, resend.stderr
    assert len(handler.received) == 3 and len({r.data for r in handler.received}) == 1
    with open_state(state) as store:
        assert store.get(1).status == "sent"  # type: ignore[union-attr]
        assert store.counts()["papers_pending"] == 0


@pytest.mark.slow
def test_serve_on_a_full_disk_does_not_send_the_message_again_at_every_poll(
    disk: Path, inbox: Path, tmp_path: Path, serves: list[Serve]
) -> None:
    handler = Accepting(filling(disk))
    with smtp_server(handler) as server:
        serve = Serve(
            tmp_path,
            inbox,
            tmp_path / "out",
            DIGEST_STATE=str(disk / "state.sqlite3"),
            DIGEST_POLL_SECONDS="0.1",
            DIGEST_RETRY_SECONDS="1",
            **server.environment(),
            **MAIL,
        )
        serves.append(serve)
        serve.wait_for("serving: inbox")
        shutil.copy(SEED, inbox)
        until(lambda: len(handler.received) == 1, 20, f"the first copy in\n{serve.text()}")
        time.sleep(2)  # twenty polls and two scheduled runs on a full disk
        assert len(handler.received) == 1, serve.text()
        # Not tried at every poll either: the service leaves its outbox alone a while.
        tries = serve.text().count("digest 1 not sent: its attempt could not be recorded")
        assert 1 <= tries <= 6, serve.text()
        assert "digest 1 was delivered (mailed to 1 recipient via" in serve.text()
        assert "but this could not be recorded" in serve.text()
        free(disk)  # room again, and full again at the next acceptance: sent once more
        until(lambda: len(handler.received) == 2, 10, f"the second copy in\n{serve.text()}")
        serve.wait_for("but this could not be recorded", count=2)
        free(disk)  # room again: held, not sent a third time
        serve.wait_for("digest 1 held, not sent again")
        time.sleep(1.5)
        assert len(handler.received) == 2
        assert serve.stop() == 0
    held(disk / "state.sqlite3", handler.received, [serve.text()])


def read_only(url: str, on: bool) -> None:
    """Make the database refuse every write from now on (`on`), as a full disk on the
    server's side does, every connection ended so that none writes on; or take it back."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SET default_transaction_read_only = off")
        name = sql.Identifier(admin.info.dbname)
        setting = sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = {}")
        admin.execute(setting.format(name, sql.Literal(on)))
        if on:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.mark.slow
def test_on_postgresql_a_state_that_cannot_record_at_acceptance_sends_a_message_twice_at_most(
    postgres: str, inbox: Path
) -> None:
    shutil.copy(SEED, inbox)
    handler = Accepting(lambda: read_only(postgres, True))
    # A delivery left with no outcome is due again after DIGEST_RETRY_SECONDS, 1 s here.
    retry = {"DIGEST_RETRY_SECONDS": "1"}
    try:
        with smtp_server(handler) as server:
            first = now(postgres, inbox, server, **retry)
            assert len(handler.received) == 1, first
            assert "but this could not be recorded (state postgresql://" in first, first
            copies, said = [], []
            for _ in range(3):
                read_only(postgres, False)
                time.sleep(1.1)
                said.append(now(postgres, inbox, server, **retry))
                copies.append(len(handler.received))
            assert copies == [2, 2, 2], said  # once more, and never again
            assert "digest 1 was delivered (mailed to 1 recipient via" in first
            assert "but this could not be recorded (state postgresql://" in first
    finally:
        read_only(postgres, False)
    held(postgres, handler.received, said)
