"""`digest serve` with a readers file: one scheduled job per schedule and time zone, each
making the digests of its readers only, never two for one reader's scheduled period."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import config
from digest.channels import EVERYTHING
from digest.channels.smtp import SmtpDeliverer
from digest.config import Settings
from digest.models import Outgoing
from digest.pipeline import run_once
from digest.service.schedule import parse_schedule
from digest.service.service import Service, last_fire, reader_groups
from digest.state import open as open_state
from tests.mailserver import Handler, smtp_server

REAL = Path(__file__).parent.parent / "fixtures" / "real"
UTC_ZONE = ZoneInfo("UTC")
READERS = """
[[reader]]
email = "ann@example.org"
schedule = "0 7 * * *"
timezone = "UTC"

[[reader]]
email = "bob@example.org"
schedule = "0 7 * * mon"
timezone = "UTC"
"""


class Recorder:
    """A deliverer that keeps who each message was for."""

    needs = EVERYTHING

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    def deliver(self, outgoing: Outgoing) -> str:
        assert outgoing.eml is not None
        msg = BytesParser(policy=policy.default).parsebytes(outgoing.eml)
        to = msg["To"].addresses[0].addr_spec
        self.sent.append((to, outgoing.message_id, outgoing.paper_count))
        return f"mailed {to}"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_each_schedule_makes_its_readers_digests_once_a_period(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "readers.toml").write_text(READERS)
    settings = Settings(
        inbox=inbox,
        state=tmp_path / "state.sqlite3",
        readers=tmp_path / "readers.toml",
        from_="papers@example.org",
    )
    groups = {g.key: g for _, g in reader_groups(settings)}
    daily, weekly = "0 7 * * * (UTC)", "0 7 * * mon (UTC)"
    assert sorted(groups) == sorted([daily, weekly])
    recorder = Recorder()
    clock = Clock(datetime(2026, 3, 10, 7, 0, 1, tzinfo=UTC))  # a Tuesday, just past seven
    service = Service(settings, recorder, parse_schedule("@daily", UTC_ZONE), UTC_ZONE, clock)
    service.groups = groups
    shutil.copy(REAL / "2025-03-18.json", inbox)
    with open_state(settings.state) as store:
        service.poll(store)
        service.poll(store)  # complete: the same size and time twice
        service.run_scheduled(daily)
        assert [to for to, _, _ in recorder.sent] == ["ann@example.org"]
        # A second run for the same period (a second leader, a restart): no second digest,
        # even with new papers; they wait for ann's next period.
        shutil.copy(REAL / "2025-03-19.json", inbox)
        service.poll(store)
        service.poll(store)
        service.run_scheduled(daily)
        assert [to for to, _, _ in recorder.sent] == ["ann@example.org"]
        clock.now = datetime(2026, 3, 11, 7, 0, 1, tzinfo=UTC)
        service.run_scheduled(daily)
        assert [to for to, _, _ in recorder.sent] == ["ann@example.org"] * 2
        # Bob's week: both days in one digest, on Monday.
        clock.now = datetime(2026, 3, 16, 7, 0, 1, tzinfo=UTC)
        service.run_scheduled(weekly)
        assert recorder.sent[-1][0] == "bob@example.org"
        assert recorder.sent[-1][2] == 17 + 18
        assert len({m for _, m, _ in recorder.sent}) == 3
        state = store.service_state()
        assert f"done_until {weekly}" in state and f"done_until {daily}" in state


def test_the_period_is_the_last_time_the_schedule_fired() -> None:
    weekly = parse_schedule("0 7 * * mon", UTC_ZONE)
    tuesday = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert last_fire(weekly, tuesday) == datetime(2026, 3, 9, 7, tzinfo=UTC_ZONE)
    assert last_fire(weekly, datetime(2026, 3, 9, 7, tzinfo=UTC)) == datetime(
        2026, 3, 9, 7, tzinfo=UTC_ZONE
    )


def test_the_service_delivers_the_readers_pending_digests_over_one_connection(
    tmp_path: Path,
) -> None:
    """A mail server busy at the run leaves each reader's digest pending; once it is back, the
    service's retry delivers them all, one after the other, over one connection."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    emails = ["ann@example.org", "bob@example.org", "cy@example.org"]
    (tmp_path / "readers.toml").write_text(
        "".join(f'[[reader]]\nemail = "{e}"\n\n' for e in emails)
    )
    shutil.copy(REAL / "2025-03-18.json", inbox)
    busy = Handler(flaky=1.0)  # every message answered "451 try again later"
    with smtp_server(busy) as server:
        env = {
            **server.environment(),
            "DIGEST_INBOX": str(inbox),
            "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
            "DIGEST_READERS": str(tmp_path / "readers.toml"),
            "DIGEST_FROM": "papers@example.org",
            "DIGEST_DELIVER": "smtp",
        }
        settings = config.load({}, env, delivering=True)
        deliverer = SmtpDeliverer.from_settings(settings)
        clock = Clock(datetime.now(UTC))
        with open_state(settings.state) as store:
            assert run_once(settings, store, deliverer, clock()).pending == 3
            assert busy.refused == 3 and not busy.received
            busy.flaky = 0.0
            clock.now += timedelta(hours=1)  # past every backoff
            service = Service(
                settings, deliverer, parse_schedule("@daily", UTC_ZONE), UTC_ZONE, clock
            )
            service.retry_due(store)
            assert not store.outgoing(status="pending")
    assert sorted(r for m in busy.received for r in m.recipients) == emails
    assert len(busy.connections) == 1
