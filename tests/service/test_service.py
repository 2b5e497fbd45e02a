"""`digest serve`: the schedule, completeness, catch-up and the outbox (in-process), then the
real service as a subprocess: files dropped the ways people drop them, signals, restarts, and
a `digest now` beside it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.channels import EVERYTHING
from digest.config import Settings, zone
from digest.errors import ConfigError, TransientDeliveryError
from digest.formats import parse
from digest.identity.keys import title_key
from digest.inbox import Candidate
from digest.models import Outgoing
from digest.pipeline import run_once
from digest.service.schedule import missed_run, parse_schedule
from digest.service.service import Service
from digest.service.watch import Watch
from digest.state import open as open_state

ROOT = Path(__file__).resolve().parent.parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


# -- the schedule -----------------------------------------------------------------------------


def fires(spec: str, tz: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after `start`, stepping in real (UTC) time."""
    trigger = parse_schedule(spec, tz)
    found: list[datetime] = []
    previous, now = None, start.astimezone(UTC)
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        found.append(fire)
        previous, now = fire, fire.astimezone(UTC) + timedelta(microseconds=1)
    return found


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


WEDNESDAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC_ZONE)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0 7 * * *", [utc(2026, 11, 26, 7), utc(2026, 11, 27, 7)]),
        ("  30   6 * * *  ", [utc(2026, 11, 26, 6, 30), utc(2026, 11, 27, 6, 30)]),
        ("@hourly", [utc(2026, 11, 25, 13), utc(2026, 11, 25, 14)]),
        ("@daily", [utc(2026, 11, 26), utc(2026, 11, 27)]),
        ("@weekly", [utc(2026, 11, 29), utc(2026, 12, 6)]),  # Sundays, as in crontab
        ("0 7 * * 0", [utc(2026, 11, 29, 7), utc(2026, 12, 6, 7)]),  # 0 is Sunday
        ("0 7 * * 7", [utc(2026, 11, 29, 7), utc(2026, 12, 6, 7)]),  # and so is 7
        ("0 7 * * 1-5", [utc(2026, 11, 26, 7), utc(2026, 11, 27, 7), utc(2026, 11, 30, 7)]),
        ("0 7 * * MON,fri", [utc(2026, 11, 27, 7), utc(2026, 11, 30, 7)]),
        ("0 7 * * */3", [utc(2026, 11, 28, 7), utc(2026, 11, 29, 7), utc(2026, 12, 2, 7)]),
        # Day of month and weekday both restricted: either matches, as in crontab.
        ("0 7 27 * 1", [utc(2026, 11, 27, 7), utc(2026, 11, 30, 7), utc(2026, 12, 7, 7)]),
        ("every 30s", [utc(2026, 11, 25, 12, 0, 30), utc(2026, 11, 25, 12, 1)]),
        ("every 15m", [utc(2026, 11, 25, 12, 15), utc(2026, 11, 25, 12, 30)]),
        ("Every 2h", [utc(2026, 11, 25, 14), utc(2026, 11, 25, 16)]),
    ],
)
def test_schedules_fire_when_crontab_would(spec: str, expected: list[datetime]) -> None:
    trigger = parse_schedule(spec, UTC_ZONE)
    if spec.lower().startswith("every"):  # an interval counts from the previous run
        previous: datetime | None = WEDNESDAY
        found = []
        for _ in expected:
            previous = trigger.get_next_fire_time(previous, WEDNESDAY)
            found.append(previous)
    else:
        found = fires(spec, UTC_ZONE, WEDNESDAY + timedelta(seconds=1), len(expected))
    assert found == expected


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "is not a schedule"),
        ("daily", "is not a schedule"),
        ("@fortnightly", "is not a schedule"),
        ("0 7 * *", "five fields"),
        ("0 7 * * * *", "five fields"),
        ("61 7 * * *", "higher than the maximum"),
        ("0 7 * * 8", "not a day of the week"),
        ("0 7 * * fri-mon", "weekday field"),
        ("every", "every N"),
        ("every 5", "unit s, m or h"),
        ("every 5d", "unit s, m or h"),
        ("every 0m", "at least 1"),
        ("every -1m", "every N"),
    ],
)
def test_a_bad_schedule_is_one_clear_error(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_schedule(spec, UTC_ZONE)
    message = str(raised.value)
    assert message.startswith(f"DIGEST_SCHEDULE={spec!r}")
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("spec", "tz", "start", "expected_utc"),
    [
        # Spring forward (Berlin, 29 March 2026: 02:00 CET -> 03:00 CEST): 02:30 does not
        # exist that night; the run still happens once, an hour later in real time.
        (
            "30 2 * * *",
            BERLIN,
            datetime(2026, 3, 28, 12, tzinfo=BERLIN),
            [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)],
        ),
        # Fall back (25 October 2026: 03:00 CEST -> 02:00 CET): 02:30 happens twice; a
        # daily run at a fixed hour runs once, not twice.
        (
            "30 2 * * *",
            BERLIN,
            datetime(2026, 10, 24, 12, tzinfo=BERLIN),
            [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        ),
        # ...while a run every half hour keeps running through the repeated hour.
        (
            "*/30 * * * *",
            BERLIN,
            datetime(2026, 10, 25, 1, 45, tzinfo=BERLIN),
            [
                utc(2026, 10, 25, 0, 0),
                utc(2026, 10, 25, 0, 30),
                utc(2026, 10, 25, 1, 0),
                utc(2026, 10, 25, 1, 30),
                utc(2026, 10, 25, 2, 0),
            ],
        ),
        # A 07:00 digest stays at 07:00 local time across both changes.
        (
            "0 7 * * *",
            NEW_YORK,
            datetime(2026, 3, 7, 12, tzinfo=NEW_YORK),
            [utc(2026, 3, 8, 11), utc(2026, 3, 9, 11)],
        ),
        (
            "0 7 * * *",
            NEW_YORK,
            datetime(2026, 10, 31, 12, tzinfo=NEW_YORK),
            [utc(2026, 11, 1, 12), utc(2026, 11, 2, 12)],
        ),
        # An interval is real time: every hour is 3600 s, whatever the clocks do.
        (
            "every 1h",
            BERLIN,
            datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN),
            [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 30)],
        ),
    ],
)
def test_daylight_saving_edges(
    spec: str, tz: ZoneInfo, start: datetime, expected_utc: list[datetime]
) -> None:
    if spec.startswith("every"):
        trigger = parse_schedule(spec, tz)
        found, previous = [], start
        for _ in expected_utc:
            previous = trigger.get_next_fire_time(previous, start)
            found.append(previous.astimezone(UTC))
        assert found == expected_utc
    else:
        assert [f.astimezone(UTC) for f in fires(spec, tz, start, len(expected_utc))] == (
            expected_utc
        )


def test_time_zone_by_name_or_the_machines_own() -> None:
    assert zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert zone(None).utcoffset(datetime(2026, 1, 1)) is not None
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "CEST"):
        with pytest.raises(ConfigError, match=r"is not a known time zone; use an IANA name"):
            zone(bad)


DAILY = parse_schedule("0 7 * * *", UTC_ZONE)


@pytest.mark.parametrize(
    ("done_until", "now", "missed"),
    [
        (None, utc(2026, 11, 25, 8), None),  # first start: nothing was due before
        (utc(2026, 11, 25, 7, 0, 1), utc(2026, 11, 25, 18), None),  # today's run was done
        (utc(2026, 11, 24, 7, 0, 1), utc(2026, 11, 25, 6, 59), None),  # not yet due
        (utc(2026, 11, 24, 7, 0, 1), utc(2026, 11, 25, 7, 0), utc(2026, 11, 25, 7)),
        # Down for three days: one run, not three.
        (utc(2026, 11, 22, 7, 0, 1), utc(2026, 11, 25, 9), utc(2026, 11, 23, 7)),
    ],
)
def test_a_missed_run_is_found_once(
    done_until: datetime | None, now: datetime, missed: datetime | None
) -> None:
    assert missed_run(DAILY, done_until, now) == missed


def test_a_missed_interval_run() -> None:
    hourly = parse_schedule("every 1h", UTC_ZONE)
    assert missed_run(hourly, utc(2026, 11, 25, 6), utc(2026, 11, 25, 6, 59)) is None
    assert missed_run(hourly, utc(2026, 11, 25, 6), utc(2026, 11, 25, 9)) == utc(2026, 11, 25, 7)


# -- completeness -----------------------------------------------------------------------------


def c(name: str, size: int, mtime: int = 1) -> Candidate:
    return Candidate(Path("/inbox") / name, size, mtime)


@pytest.mark.parametrize(
    ("polls", "ready_after_each"),
    [
        ([[c("a", 10)], [c("a", 10)]], [[], ["a"]]),
        ([[c("a", 5)], [c("a", 10)], [c("a", 10)]], [[], [], ["a"]]),  # grew: wait again
        ([[c("a", 10, 1)], [c("a", 10, 2)], [c("a", 10, 2)]], [[], [], ["a"]]),  # touched
        ([[c("a", 10)], [c("a", 10)], [c("a", 10)]], [[], ["a"], []]),  # announced once
        ([[c("a", 10)], [], [c("a", 10)], [c("a", 10)]], [[], [], [], ["a"]]),  # gone, back
        ([[c("a", 1), c("b", 2)], [c("b", 2), c("a", 1)]], [[], ["a", "b"]]),
        ([[c("a", 1)], [c("b", 1)], [c("b", 1)]], [[], [], ["b"]]),  # renamed: a new file
    ],
)
def test_a_file_is_ready_once_two_polls_agree(
    polls: list[list[Candidate]], ready_after_each: list[list[str]]
) -> None:
    watch = Watch()
    for found, expected in zip(polls, ready_after_each, strict=True):
        assert [r.path.name for r in watch.update(found)] == expected
    assert watch.ready == frozenset(polls[-1]) & watch.ready


def test_changing_file_drops_out_of_ready() -> None:
    watch = Watch()
    watch.update([c("a", 10)])
    watch.update([c("a", 10)])
    assert watch.ready == {c("a", 10)}
    watch.update([c("a", 12)])
    assert watch.ready == frozenset()


# -- the service in-process: polling, the outbox, processed files -----------------------------


class Flaky:
    """A deliverer that fails for now until told otherwise."""

    needs = EVERYTHING

    def __init__(self) -> None:
        self.calls = 0
        self.down = True

    def deliver(self, outgoing: Outgoing) -> str:
        self.calls += 1
        if self.down:
            raise TransientDeliveryError("mail server busy, try later")
        return f"delivered digest {outgoing.id}"


class Clock:
    """The service's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_pending_digest_is_retried_on_a_poll_once_its_backoff_has_passed(
    inbox: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(SEEDS[0], inbox)
    settings = Settings(inbox=inbox, state=tmp_path / "state.sqlite3")
    flaky, clock = Flaky(), Clock()
    service = Service(settings, flaky, DAILY, UTC_ZONE, clock=clock)
    with open_state(settings.state) as store:
        assert run_once(settings, store, flaky, clock()).pending == 1
        service.poll(store)
        assert flaky.calls == 1  # backing off: not yet
        flaky.down = False
        clock.now += timedelta(minutes=1, seconds=1)
        with caplog.at_level("INFO", logger="digest"):
            service.poll(store)
            service.poll(store)
        assert flaky.calls == 2  # once, then nothing is pending
        assert store.counts()["papers_pending"] == 0
        assert store.counts()["papers_seen"] == len(parse(SEEDS[0].read_bytes(), "x").papers)
    assert "pending digest delivered: delivered digest 1" in caplog.text


def test_an_unreadable_inbox_is_reported_once_until_it_is_back(
    inbox: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(inbox=inbox, state=tmp_path / "state.sqlite3")
    service = Service(settings, Flaky(), DAILY, UTC_ZONE)
    with open_state(settings.state) as store, caplog.at_level("INFO", logger="digest"):
        inbox.rename(tmp_path / "away")
        for _ in range(3):
            service.poll(store)
        (tmp_path / "away").rename(inbox)
        service.poll(store)
    assert caplog.text.count("is not a folder") == 1
    assert f"inbox {inbox} can be read again" in caplog.text


def test_processed_dumps_move_to_a_folder_inside_the_inbox(
    inbox: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        inbox=inbox, state=tmp_path / "state.sqlite3", out=tmp_path / "out", processed="move"
    )
    from digest.channels.files import FilesDeliverer

    service = Service(settings, FilesDeliverer(settings.out), DAILY, UTC_ZONE)
    shutil.copy(SEEDS[0], inbox / "today.txt")
    shutil.copy(SEEDS[0], inbox / "today again.txt")  # the same content under another name
    (inbox / "empty.txt").write_text("")  # rejected: stays for the reader to see
    (inbox / "processed").mkdir()
    (inbox / "processed" / "today.txt").write_text("an older dump of the same name")
    with open_state(settings.state) as store, caplog.at_level("INFO", logger="digest"):
        service.poll(store)
        service.poll(store)
        (inbox / "late.txt").write_bytes(SEEDS[1].read_bytes())  # not complete yet
        service.run_scheduled()
    moved = sorted(p.name for p in (inbox / "processed").iterdir())
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".digest-state",  # which state read it
        "empty.txt",
        "late.txt",
        "processed",
    ]
    assert len(moved) == 3 and "today again.txt" in moved and "today.txt" in moved
    assert (inbox / "processed" / "today.txt").read_text() == "an older dump of the same name"
    assert "today.txt is complete (" in caplog.text
    assert "today again.txt is complete" in caplog.text
    assert len(list((tmp_path / "out").glob("*.json"))) == 1


# -- the real `digest serve`, as a subprocess -------------------------------------------------


class Serve:
    """A running `digest serve`, its output in a file."""

    count = 0

    def __init__(self, tmp_path: Path, inbox: Path, out: Path, **env: str) -> None:
        Serve.count += 1
        self.log = tmp_path / f"serve-{Serve.count}.log"
        self.env = {
            **os.environ,
            "DIGEST_INBOX": str(inbox),
            "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
            "DIGEST_OUT": str(out),
            "DIGEST_SCHEDULE": "every 1s",
            "DIGEST_POLL_SECONDS": "0.2",
            "DIGEST_TIMEZONE": "UTC",
            **env,
        }
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "digest", "serve", "-v"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=tmp_path,
            )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, needle: str, timeout: float = 10, count: int = 1) -> None:
        until(lambda: self.text().count(needle) >= count, timeout, f"{needle!r} in\n{self.text()}")

    def stop(self, timeout: float = 10) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    """Services started by a test; any still running at its end is killed."""
    started: list[Serve] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def digests(*folders: Path) -> list[list[str]]:
    """The title keys of every JSON digest in these folders."""
    return [
        [title_key(p["title"]) for p in json.loads(path.read_text())["papers"]]
        for folder in folders
        for path in sorted(folder.glob("*.json"))
    ]


def keys_of(*seeds: Path | bytes) -> set[str]:
    return {
        title_key(p.title)
        for s in seeds
        for p in parse(s if isinstance(s, bytes) else s.read_bytes(), "x").papers
    }


def dump_hashes(state: Path) -> set[tuple[str, str]]:
    with open_state(state) as store:
        return {(r[0], r[1]) for r in store.db.execute("SELECT sha256, status FROM dumps")}


def sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def digest_cli(
    tmp_path: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *argv],
        capture_output=True,
        text=True,
        env=env or os.environ,
        cwd=tmp_path,
        timeout=30,
    )


@pytest.mark.slow
def test_serve_takes_complete_files_only_delivers_once_and_survives_a_restart(
    tmp_path: Path, inbox: Path, serves: list[Serve]
) -> None:
    out, state = tmp_path / "out", tmp_path / "state.sqlite3"
    # Polls 1.2 s apart and a 1.05 s pause in the slow write: no two polls see the half file
    # alike, while at least one scheduled run happens during the pause.
    serve = Serve(tmp_path, inbox, out, DIGEST_POLL_SECONDS="1.2")
    serves.append(serve)
    serve.wait_for("serving: inbox")

    first, second = SEEDS[0].read_bytes(), SEEDS[1].read_bytes()
    (inbox / "first.txt.part").write_bytes(first)  # saved aside, then renamed: atomic
    os.rename(inbox / "first.txt.part", inbox / "first.txt")
    with (inbox / "second.txt").open("wb") as f:  # a slow copy, in two halves
        half = len(second) // 2
        f.write(second[:half])
        f.flush()
        time.sleep(1.05)
        f.write(second[half:])

    # A second service on the same state file is refused.
    other = digest_cli(tmp_path, "serve", env=serve.env)
    assert other.returncode == 1
    assert "digest serve is already running with state file" in other.stderr

    expected = keys_of(first, second)
    until(lambda: {k for d in digests(out) for k in d} == expected, 15, "both dumps delivered")
    assert dump_hashes(state) == {(sha(first), "ingested"), (sha(second), "ingested")}
    assert "second.txt is complete (" in serve.text()

    status = digest_cli(tmp_path, "status", env=serve.env).stdout
    assert f"service: running (pid {serve.proc.pid})" in status
    assert "next scheduled run: 20" in status

    shutil.copy(inbox / "first.txt", inbox / "first again.txt")
    serve.wait_for("first again.txt is complete: same content as a dump read before")
    assert serve.stop() == 0
    assert serve.text().rstrip().endswith("digest: stopped")
    delivered = sorted(out.iterdir())

    again = Serve(tmp_path, inbox, out)
    serves.append(again)
    again.wait_for("scheduled run started; complete files in the inbox: 3", timeout=10)
    again.wait_for("scheduled run started; complete files in the inbox: 3", count=2)
    assert again.stop() == 0
    assert sorted(out.iterdir()) == delivered  # nothing delivered again
    found = [k for d in digests(out) for k in d]
    assert sorted(found) == sorted(expected)  # each paper exactly once
    assert dump_hashes(state) == {(sha(first), "ingested"), (sha(second), "ingested")}
    assert "Traceback" not in serve.text() + again.text()

    status = digest_cli(tmp_path, "status", env=serve.env).stdout
    assert "service: not running (stopped at 20" in status
    assert "last successful run: 20" in status
    assert "last scheduled run: 20" in status


@pytest.mark.slow
def test_digest_now_beside_a_running_service_never_repeats_a_paper(
    tmp_path: Path, inbox: Path, serves: list[Serve]
) -> None:
    served, once = tmp_path / "served", tmp_path / "once"
    serve = Serve(tmp_path, inbox, served)
    serves.append(serve)
    serve.wait_for("serving: inbox")
    for i, seed in enumerate(SEEDS):
        shutil.copy(seed, inbox / (seed.name + ".part"))
        os.rename(inbox / (seed.name + ".part"), inbox / seed.name)
        if i % 2:  # let the service have this one; race it for the others
            serve.wait_for(f"read {seed.name}")
        now = digest_cli(tmp_path, "now", "--out", str(once), env=serve.env)
        assert now.returncode == 0, now.stderr
    serve.wait_for("scheduled run started; complete files in the inbox: 5", count=2)
    assert serve.stop() == 0
    assert digests(served) and digests(once), "both should have delivered something"
    with open_state(tmp_path / "state.sqlite3") as store:
        statuses = [item.status for item in store.recent(limit=1000)]
    assert statuses == ["sent"] * len(digests(served, once))
    found = [k for d in digests(served, once) for k in d]
    assert len(found) == len(set(found)), "a paper appeared in two digests"
    assert set(found) == keys_of(*SEEDS)


@pytest.mark.slow
def test_a_run_missed_while_stopped_is_made_up_once_on_start(
    tmp_path: Path, inbox: Path, serves: list[Serve]
) -> None:
    out, state = tmp_path / "out", tmp_path / "state.sqlite3"
    due = datetime.now(UTC) - timedelta(hours=2)  # daily at this time: next fire ~22 h away
    with open_state(state) as store:
        store.set_service_state(done_until=(due - timedelta(days=3)).isoformat())
    shutil.copy(SEEDS[0], inbox)  # arrived while the service was down
    schedule = f"{due.minute} {due.hour} * * *"
    serve = Serve(tmp_path, inbox, out, DIGEST_SCHEDULE=schedule)
    serves.append(serve)
    serve.wait_for("was missed while stopped; running once shortly")
    until(lambda: len(digests(out)) == 1, 10, "the catch-up digest")
    time.sleep(0.6)  # three more polls: still one run, one digest
    assert serve.stop() == 0
    assert serve.text().count("scheduled run started") == 1
    assert len(digests(out)) == 1 and set(digests(out)[0]) == keys_of(SEEDS[0])

    again = Serve(tmp_path, inbox, out, DIGEST_SCHEDULE=schedule)
    serves.append(again)
    again.wait_for("serving: inbox")
    time.sleep(0.5)
    assert again.stop() == 0
    assert "was missed" not in again.text()
    assert "scheduled run started" not in again.text()


@pytest.mark.slow
def test_first_signal_lets_the_run_finish_a_second_stops_at_once(
    tmp_path: Path, inbox: Path, serves: list[Serve]
) -> None:
    out, state = tmp_path / "out", tmp_path / "state.sqlite3"
    with open_state(state) as store:
        for seed, files, again in ((SEEDS[0], 1, False), (SEEDS[1], 2, True)):
            shutil.copy(seed, inbox)
            # Hold the run lock so that the scheduled run is caught in the middle.
            with store.lock():
                serve = Serve(tmp_path, inbox, out)
                serves.append(serve)
                serve.wait_for(f"scheduled run started; complete files in the inbox: {files}")
                serve.proc.send_signal(signal.SIGTERM)
                serve.wait_for("SIGTERM: stopping once the current run is done")
                if again:
                    serve.proc.send_signal(signal.SIGTERM)
                    assert serve.proc.wait(3) == 128 + signal.SIGTERM
                    assert "SIGTERM again: stopping at once" in serve.text()
                    status = digest_cli(tmp_path, "status", env=serve.env).stdout
                    assert "service: not running (started 20" in status
                    assert "ended without a clean stop" in status
                else:
                    time.sleep(0.5)
                    assert serve.proc.poll() is None  # still finishing its run
            if not again:
                assert serve.proc.wait(10) == 0
                assert len(digests(out)) == 1  # the run it was in finished and delivered

    serve = Serve(tmp_path, inbox, out)  # nothing was lost: the next start delivers it
    serves.append(serve)
    until(lambda: len(digests(out)) == 2, 10, "the second digest")
    assert serve.stop() == 0
    found = [k for d in digests(out) for k in d]
    assert len(found) == len(set(found)) and set(found) == keys_of(SEEDS[0], SEEDS[1])


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DIGEST_TIMEZONE": "Mars/Olympus"}, "DIGEST_TIMEZONE='Mars/Olympus' is not a known"),
        ({"DIGEST_SCHEDULE": "every day"}, "DIGEST_SCHEDULE='every day': write `every N`"),
        ({"DIGEST_INBOX": "/nonexistent/inbox"}, "inbox /nonexistent/inbox is not a folder"),
    ],
)
def test_serve_refuses_bad_settings_in_one_line(
    tmp_path: Path, inbox: Path, env: dict[str, str], says: str
) -> None:
    result = digest_cli(
        tmp_path,
        "serve",
        env={**os.environ, "DIGEST_INBOX": str(inbox), "DIGEST_STATE": str(tmp_path / "s"), **env},
    )
    assert result.returncode == 1
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_second_serve_under_another_name_for_the_state_file_is_refused(
    tmp_path: Path, inbox: Path, serves: list[Serve]
) -> None:
    serve = Serve(tmp_path, inbox, tmp_path / "out")
    serves.append(serve)
    serve.wait_for("serving: inbox")
    alias = tmp_path / "alias.sqlite3"
    alias.symlink_to("state.sqlite3")
    try:
        other = subprocess.run(
            [sys.executable, "-m", "digest", "serve"],
            capture_output=True,
            text=True,
            env={**serve.env, "DIGEST_STATE": str(alias)},
            cwd=tmp_path,
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a second service ran on the same state file under another name")
    assert other.returncode == 1
    (line,) = other.stderr.splitlines()
    assert line.endswith(f"digest serve is already running with state file {alias}; stop it first")
    status = digest_cli(tmp_path, "status", "--state", str(alias)).stdout
    assert f"service: running (pid {serve.proc.pid})" in status
    assert serve.stop() == 0


def test_the_service_s_log_lines_are_stamped_in_its_own_zone() -> None:
    import logging
    from zoneinfo import ZoneInfo

    from digest.service.status import Stamped

    record = logging.LogRecord("digest", logging.INFO, __file__, 1, "serving", None, None)
    record.created = datetime(2025, 1, 15, 6, 0, tzinfo=UTC).timestamp()
    assert Stamped(ZoneInfo("Europe/Berlin")).format(record) == (
        "2025-01-15 07:00:00+0100 digest: serving"
    )
    assert Stamped(ZoneInfo("Asia/Kolkata")).format(record).startswith("2025-01-15 11:30:00+0530")
