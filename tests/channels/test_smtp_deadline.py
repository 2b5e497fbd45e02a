"""Mail servers that take their time, for real on loopback: one that trickles a byte a second,
one that accepts and says nothing. A message has DIGEST_SMTP_TIMEOUT for its whole exchange,
a run stops trying a server that failed several readers in a row, and SIGTERM ends an
exchange at once, in `digest serve` and in `digest now`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import config
from digest.channels.smtp import SmtpDeliverer
from digest.errors import DeliveryStopped, TransientDeliveryError
from digest.pipeline import run_once
from digest.state import open as open_state
from tests.channels.test_smtp import ca, client_tls, make_outgoing, server_tls
from tests.mailserver import Tarpit, tarpit
from tests.service.test_service import Serve, serves

__all__ = ["ca", "client_tls", "server_tls", "serves"]  # the fixtures, used by name

REAL = Path(__file__).parent.parent / "fixtures" / "real"
SEEDS = sorted((Path(__file__).parent.parent.parent / "seeds").glob("*.txt"))
SLOW = b"220-mail.test is slow today\r\n" * 2


@pytest.mark.slow
@pytest.mark.parametrize("security", ["none", "ssl"])
def test_a_server_trickling_a_byte_a_second_costs_the_timeout_once(
    security: str, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    tls = server_tls if security == "ssl" else None
    with tarpit(SLOW, tls=tls) as pit:
        deliverer = SmtpDeliverer(
            "127.0.0.1", pit.port, security=security, timeout=2, ssl_context=client_tls
        )
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError, match=r"did not answer within 2 s"):
            deliverer.deliver(make_outgoing())
        took = time.monotonic() - started
    assert took < 3.5, f"the exchange took {took:.1f} s with a 2 s timeout"


def test_stop_ends_an_exchange_at_once_and_every_one_after() -> None:
    with tarpit() as pit:
        deliverer = SmtpDeliverer("127.0.0.1", pit.port, security="none", timeout=60)
        outcome: list[BaseException] = []

        def deliver() -> None:
            try:
                deliverer.deliver(make_outgoing())
            except BaseException as e:
                outcome.append(e)

        thread = threading.Thread(target=deliver)
        thread.start()
        assert pit.connected.wait(10)
        stopped = time.monotonic()
        assert deliverer.stop()
        thread.join(5)
        assert not thread.is_alive() and time.monotonic() - stopped < 1
        assert isinstance(outcome[0], DeliveryStopped)
        assert "stopped before 127.0.0.1" in str(outcome[0])
        with pytest.raises(DeliveryStopped):  # and no other begins
            deliverer.deliver(make_outgoing())
        assert len(pit.connections) == 1


def _readers(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "readers.toml"
    path.write_text("".join(f'[[reader]]\nemail = "r{i}@example.org"\n\n' for i in range(count)))
    return path


@pytest.mark.slow
def test_a_silent_server_costs_a_few_timeouts_a_run_not_one_a_reader(
    tmp_path: Path, inbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(REAL / "2025-03-18.json", inbox)
    with tarpit(b"") as pit:  # accepts, and never says a word
        settings = config.load(
            {},
            {
                "DIGEST_INBOX": str(inbox),
                "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
                "DIGEST_READERS": str(_readers(tmp_path, 8)),
                "DIGEST_FROM": "papers@example.org",
                "DIGEST_SMTP_TIMEOUT": "1",
                **pit.environment(),
            },
            delivering=True,
        )
        with open_state(settings.state) as store, caplog.at_level("INFO", logger="digest"):
            started = time.monotonic()
            report = run_once(
                settings, store, SmtpDeliverer.from_settings(settings), datetime.now(UTC)
            )
            took = time.monotonic() - started
            pending = store.outgoing(status="pending")
    assert took < 5, f"8 readers took {took:.1f} s with a 1 s timeout"
    assert len(pit.connections) == 3  # then the server is left alone for this run
    assert report.pending == len(pending) == 8  # every digest made, kept for later
    assert sorted(d.attempts for d in pending) == [0] * 5 + [1] * 3
    said = [r.getMessage() for r in caplog.records if "in a row" in r.getMessage()]
    assert said == [
        "3 deliveries in a row failed for now; the other digests of this run stay pending,"
        " tried again later"
    ]
    # Each failure its own line, as it happened, naming whose message it was.
    failures = [r.getMessage() for r in caplog.records if "did not answer" in r.getMessage()]
    assert len(failures) == 3
    assert all(re.search(r"within 1 s .*\(to r\d@example\.org\)$", line) for line in failures)


def _mail_env(tmp_path: Path, inbox: Path, pit: Tarpit) -> dict[str, str]:
    return {
        "DIGEST_INBOX": str(inbox),
        "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
        "DIGEST_FROM": "papers@example.org",
        "DIGEST_TO": "ann@example.org",
        "DIGEST_SMTP_TIMEOUT": "60",
        **pit.environment(),
    }


def _stopped_digest(tmp_path: Path) -> tuple[str, int, str | None]:
    with open_state(tmp_path / "state.sqlite3") as store:
        [item] = store.recent()
        return item.status, item.attempts, item.last_error


@pytest.mark.slow
def test_sigterm_stops_serve_at_once_in_the_middle_of_a_tarpit(
    tmp_path: Path, inbox: Path, serves: list[Serve]
) -> None:
    with tarpit() as pit:
        serve = Serve(tmp_path, inbox, tmp_path / "out", **_mail_env(tmp_path, inbox, pit))
        serves.append(serve)
        serve.wait_for("serving: inbox")
        shutil.copy(SEEDS[0], inbox)
        assert pit.connected.wait(15), serve.text()
        time.sleep(0.5)  # well into the greeting
        signalled = time.monotonic()
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(10) == 0
        took = time.monotonic() - signalled
    assert took < 2, f"serve took {took:.1f} s to stop\n{serve.text()}"
    status, attempts, error = _stopped_digest(tmp_path)
    assert (status, attempts) == ("pending", 1), serve.text()  # for the next start
    assert error is not None and "stopped before 127.0.0.1" in error
    assert "Traceback" not in serve.text()


@pytest.mark.slow
def test_sigterm_stops_digest_now_in_the_middle_of_a_tarpit_and_keeps_the_digest(
    tmp_path: Path, inbox: Path
) -> None:
    shutil.copy(SEEDS[0], inbox)
    with tarpit() as pit:
        now = subprocess.Popen(
            [sys.executable, "-m", "digest", "now"],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **_mail_env(tmp_path, inbox, pit)},
            cwd=tmp_path,
        )
        assert pit.connected.wait(30)
        signalled = time.monotonic()
        now.send_signal(signal.SIGTERM)
        stderr = now.communicate(timeout=10)[1]
        took = time.monotonic() - signalled
    assert now.returncode == 128 + signal.SIGTERM, stderr
    assert took < 2, f"digest now took {took:.1f} s to stop"
    assert "SIGTERM: stopping; digests not delivered yet stay pending" in stderr
    assert "Traceback" not in stderr
    status, attempts, error = _stopped_digest(tmp_path)
    assert (status, attempts) == ("pending", 1)
    assert error is not None and "stopped before 127.0.0.1" in error
    with open_state(tmp_path / "state.sqlite3") as store:  # due again at once
        assert [d.id for d in store.outgoing(status="pending", due=datetime.now(UTC))] == [1]
