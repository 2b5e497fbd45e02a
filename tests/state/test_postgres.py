"""The state on a real PostgreSQL server, through the real command line: the commands, the same
digests as on SQLite, several `digest serve` on one database, a worker killed mid-delivery."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from digest import state
from digest.state.migrations import steps
from tests.mailserver import Handler, smtp_server
from tests.service.test_service import Serve, digests, serves, until
from tests.state import outgoing
from tests.test_printable import digest

__all__ = ["serves"]  # the fixture, used by name

REAL = Path(__file__).parent.parent / "fixtures" / "real"
SEEDS = sorted((Path(__file__).parent.parent.parent / "seeds").glob("*.txt"))


def with_password(url: str) -> str:
    """The URL with a password in it (the test server trusts loopback, so it is not checked)."""
    return url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@", 1)


@pytest.mark.slow
def test_the_commands_work_on_postgresql_and_never_show_the_password(
    postgres: str, tmp_path: Path
) -> None:
    url, inbox, out = with_password(postgres), tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    shutil.copy(SEEDS[0], inbox)
    env = {"DIGEST_STATE": url, "DIGEST_OUT": str(out)}
    runs = [digest("now", "--inbox", str(inbox), "-v", cwd=tmp_path, **env)]
    assert runs[-1].returncode == 0, runs[-1].stderr
    runs.append(digest("status", cwd=tmp_path, **env))
    assert "papers seen: 63" in runs[-1].stdout and "sent: digest 1, 63 papers" in runs[-1].stdout
    assert f"state file: {url.replace(':hunter2@', ':***@')}" in runs[-1].stdout
    runs.append(digest("ingest", str(SEEDS[1]), cwd=tmp_path, **env))
    assert runs[-1].returncode == 0, runs[-1].stderr
    runs.append(digest("seen", "--limit", "1", "attention", cwd=tmp_path, **env))
    assert runs[-1].returncode == 0 and runs[-1].stdout.strip(), runs[-1].stderr
    first_id = runs[-1].stdout.split()[0].strip("#:")
    runs.append(digest("forget", first_id, cwd=tmp_path, **env))
    assert runs[-1].returncode == 0 and "forgot" in runs[-1].stdout.lower(), runs[-1]
    shutil.rmtree(out)
    runs.append(digest("resend", "1", cwd=tmp_path, **env))
    assert runs[-1].returncode == 0 and len(list(out.glob("digest-*.json"))) == 1
    runs.append(digest("resend", "9", cwd=tmp_path, **env))
    assert (
        runs[-1].returncode == 1 and "no digest 9 in postgresql://postgres:***@" in runs[-1].stderr
    )
    for run in runs:
        assert "hunter2" not in run.stdout + run.stderr
        assert "Traceback" not in run.stderr


def test_a_server_that_is_down_is_one_line_without_the_password(tmp_path: Path) -> None:
    from tests.mailserver import free_port

    url = f"postgresql://me:hunter2@127.0.0.1:{free_port()}/digest"
    run = digest("status", cwd=tmp_path, DIGEST_STATE=url)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "hunter2" not in run.stdout + run.stderr
    assert f"state postgresql://me:***@127.0.0.1:{url.split(':')[-1].split('/')[0]}" in run.stderr


def _papers(out: Path) -> list[tuple[object, ...]]:
    """Of every digest written to `out`, in delivery order: its papers (all they show, in
    order), its summary and counts, and the titles it skipped as seen before."""
    found = [json.loads(f.read_text()) for f in sorted(out.glob("*.json"))]
    return [
        (d["papers"], d["summary"], d["stats"], [s["title"] for s in d["skipped"]]) for d in found
    ]


@pytest.mark.slow
def test_the_real_days_one_a_run_make_the_same_digests_as_on_sqlite(
    postgres: str, tmp_path: Path
) -> None:
    made: dict[str, list[tuple[object, ...]]] = {}
    for name, where in (("sqlite", str(tmp_path / "s.sqlite3")), ("postgresql", postgres)):
        inbox, out = tmp_path / name / "inbox", tmp_path / name / "out"
        inbox.mkdir(parents=True)
        for day in sorted(REAL.glob("*.json")):
            shutil.copy(day, inbox)
            run = digest("now", "--inbox", str(inbox), cwd=tmp_path, DIGEST_STATE=where,
                         DIGEST_OUT=str(out), DIGEST_FORMAT="json")  # fmt: skip
            assert run.returncode == 0, run.stderr
        made[name] = _papers(out)
    assert len(made["sqlite"]) == len(list(REAL.glob("*.json")))
    assert sum(len(d[0]) for d in made["sqlite"]) > 100  # type: ignore[arg-type]
    assert made["postgresql"] == made["sqlite"]


def _serve(tmp_path: Path, inbox: Path, url: str, serves: list[Serve], **env: str) -> Serve:
    out = tmp_path / f"out-{len(serves)}"
    started = Serve(tmp_path, inbox, out, DIGEST_STATE=url, **env)
    started.out = out  # type: ignore[attr-defined]
    serves.append(started)
    return started


@pytest.mark.slow
def test_a_leader_that_does_not_fetch_says_so_and_a_follower_that_would_warns(
    postgres: str, tmp_path: Path, serves: list[Serve]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    leader = _serve(tmp_path, inbox, postgres, serves)
    leader.wait_for("serving:")
    follower = _serve(tmp_path, inbox, postgres, serves, DIGEST_FETCH_SCHEDULE="0 6 * * *")
    follower.wait_for("another digest serve leads")
    follower.wait_for("the leading service has no DIGEST_FETCH_SCHEDULE")
    assert "this service does not fetch the listing" in leader.text()
    assert leader.stop() == 0 and follower.stop() == 0


TAKEOVER_SECONDS = 5  # FOLLOW_SECONDS (1 s) after the leader's connection ends, and slack


@pytest.mark.slow
def test_of_two_services_one_leads_and_the_other_takes_over_when_it_is_killed(
    postgres: str, tmp_path: Path, serves: list[Serve]
) -> None:

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = _serve(tmp_path, inbox, postgres, serves)
    first.wait_for("serving:")
    second = _serve(tmp_path, inbox, postgres, serves)
    second.wait_for("another digest serve leads")
    shutil.copy(SEEDS[0], inbox)
    outs = first.out, second.out  # type: ignore[attr-defined]
    until(lambda: len(digests(*outs)) == 1, 20, "the first digest, by either")  # all deliver
    time.sleep(1.5)  # more scheduled runs: the follower still only follows
    assert "serving:" not in second.text() and second.proc.poll() is None
    status = digest("status", cwd=tmp_path, DIGEST_STATE=postgres)
    assert "service: running" in status.stdout, status.stdout

    first.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    first.proc.wait()
    second.wait_for("serving:", timeout=TAKEOVER_SECONDS)
    took = time.monotonic() - killed
    assert "taking the lead" in second.text() and took < TAKEOVER_SECONDS
    shutil.copy(SEEDS[1], inbox)
    until(lambda: len(digests(*outs)) == 2, 20, "the new leader's digest")
    assert second.stop() == 0
    made = digests(*outs)
    assert len(made) == 2 and len({k for d in made for k in d}) == sum(map(len, made))


class SlowHandler(Handler):
    """A mail server that takes its time over the first messages (`delays`, seconds each) and
    notes when each message starts coming in."""

    def __init__(self, *delays: float) -> None:
        super().__init__()
        self.delays = list(delays)
        self.started: list[float] = []  # time.monotonic() as each message starts coming in

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        import asyncio

        self.started.append(time.monotonic())
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.slow
def test_a_digest_being_sent_is_never_doubled_and_a_killed_senders_is_taken_over_in_seconds(
    postgres: str, tmp_path: Path, serves: list[Serve]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    handler = SlowHandler(15)  # the first message takes 15 s to be accepted
    with smtp_server(handler) as mail:
        env = {**mail.environment(), "DIGEST_FROM": "p@example.org", "DIGEST_TO": "a@example.org"}
        first = _serve(tmp_path, inbox, postgres, serves, **env)
        first.wait_for("serving:")
        shutil.copy(SEEDS[0], inbox)
        until(lambda: len(handler.started) == 1, 20, f"a delivery in\n{first.text()}")
        second = _serve(tmp_path, inbox, postgres, serves, **env)
        second.wait_for("another digest serve leads")
        time.sleep(2)  # the second looks for due digests every second: the one being sent is held
        assert len(handler.started) == 1 and first.proc.poll() is None
        first.proc.send_signal(signal.SIGKILL)  # while the server still takes the message in
        first.proc.wait()
        killed = time.monotonic()
        until(lambda: len(handler.started) == 2, 10, f"the digest taken over in\n{second.text()}")
        took = handler.started[1] - killed
        until(lambda: _statuses(postgres) == ["sent"], 10, f"a delivery in\n{second.text()}")
        print(f"a killed worker's digest was taken over after {took:.2f} s")
        assert took < 3
        second.wait_for("mailed to 1 recipient")  # said once the delivery is recorded
        assert second.stop() == 0
        ids = {m.message["Message-ID"] for m in mail.received}
    with psycopg.connect(postgres) as db:
        stored = db.execute("SELECT message_id FROM digests").fetchall()
    assert len(stored) == 1 and len(mail.received) >= 1
    assert ids == {stored[0][0]}  # every copy, if the first got through too, the same message
    assert "Traceback" not in first.text() + second.text()


@pytest.mark.slow
def test_a_restart_of_the_server_ends_the_lead_and_the_claims_and_they_can_be_taken_again(
    own_postgres: Any,
) -> None:
    with state.open(own_postgres.url) as store:
        assert store.lead() and store.still_leading()
        digest_id = store.record([], [], [], outgoing())
        assert digest_id is not None and store.claim(digest_id)
        own_postgres.restart()
        assert not store.still_leading()  # the lock went with the connection that held it
        assert store.lead() and store.still_leading()  # on a new connection
        assert store.claim(digest_id)
        assert store.counts()["papers_pending"] == 0  # the pool's connections are new too


def _leaders(url: str) -> list[str]:
    """The application names (`digest (pid N)`) of the connections holding the lead."""
    from digest.state.postgres import LEAD_LOCK

    try:
        with psycopg.connect(url, autocommit=True) as db:
            rows = db.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s",
                (LEAD_LOCK,),
            ).fetchall()
    except psycopg.OperationalError:  # the server is not up (yet)
        return []
    return [row[0] for row in rows]


def _leader(url: str, services: list[Serve]) -> Serve | None:
    """The one of these services that holds the lead now, if exactly one of them does."""
    names = _leaders(url)
    found = [s for s in services if f"digest (pid {s.proc.pid})" in names]
    return found[0] if len(names) == 1 and len(found) == 1 else None


RUN = "scheduled run started"  # what a service logs (with -v) as it makes a scheduled run


def _cluster(server: Any, tmp_path: Path, serves: list[Serve], count: int) -> Path:
    """`count` services on the server's database, the first leading: their inbox."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _serve(tmp_path, inbox, server.url, serves).wait_for("serving:")
    for _ in range(count - 1):
        _serve(tmp_path, inbox, server.url, serves).wait_for("another digest serve leads")
    return inbox


def _stop_all(serves: list[Serve]) -> None:
    """Every service still running, then stopped cleanly, without a traceback."""
    for s in serves:
        assert s.proc.poll() is None, s.text()
    for s in serves:
        assert s.stop() == 0
        assert "Traceback" not in s.text()


@pytest.mark.slow
def test_services_ride_out_a_restart_of_the_server_and_one_of_them_leads(
    own_postgres: Any, tmp_path: Path, serves: list[Serve]
) -> None:
    url, inbox = own_postgres.url, _cluster(own_postgres, tmp_path, serves, 3)
    own_postgres.restart()
    restarted = time.monotonic()
    until(lambda: _leader(url, serves) is not None, 20, "one leader after the restart")
    led = time.monotonic() - restarted
    shutil.copy(SEEDS[0], inbox)
    outs = [s.out for s in serves]  # type: ignore[attr-defined]
    until(lambda: len(digests(*outs)) == 1, 20, "the digest made after the restart")
    delivered = time.monotonic() - restarted
    print(f"after a restart: one leader after {led:.1f} s, a new dump delivered {delivered:.1f} s")
    time.sleep(2)  # more scheduled runs
    assert len(digests(*outs)) == 1 and _leader(url, serves) is not None
    _stop_all(serves)


@pytest.mark.slow
def test_after_an_outage_one_service_leads_and_the_old_leader_no_longer_runs_the_schedule(
    own_postgres: Any, tmp_path: Path, serves: list[Serve]
) -> None:
    url, inbox = own_postgres.url, _cluster(own_postgres, tmp_path, serves, 2)
    first, second = serves
    first.wait_for(RUN, count=2)
    own_postgres.stop()
    time.sleep(1)  # the leader finds its lead gone within a second
    runs = first.text().count(RUN)
    time.sleep(3)  # the schedule fires every second: none is run while the lead is gone
    assert first.text().count(RUN) == runs, first.text()
    own_postgres.start()
    started = time.monotonic()
    _serve(tmp_path, inbox, url, serves)  # a service (re)started meanwhile
    until(lambda: _leader(url, serves) is not None, 30, "one leader after the outage")
    print(f"after a 4 s outage: one leader {time.monotonic() - started:.1f} s after the start")
    leader = _leader(url, serves)
    leader.wait_for(RUN, count=leader.text().count(RUN) + 1)  # type: ignore[union-attr]
    before = [s.text().count(RUN) for s in serves]
    time.sleep(3)
    after = [s.text().count(RUN) for s in serves]
    running = [s for s, b, a in zip(serves, before, after, strict=True) if a > b]
    assert running == [leader] and _leader(url, serves) is leader
    assert "no longer leads" in first.text()
    assert "waiting for it" in second.text() and "can be reached again" in second.text()
    _stop_all(serves)


def _statuses(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as db:
        return [row[0] for row in db.execute("SELECT status FROM digests ORDER BY id")]


def test_a_database_with_a_column_a_format_keeps_every_digest_as_it_was(postgres: str) -> None:
    """Upgraded, the outbox keeps each digest's renderings by format name: those it had (an
    empty one was not made), and nothing else."""
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("CREATE TABLE digest_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for name, script in steps("postgres")[:2]:
            assert isinstance(script, str)
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement.encode())
            conn.execute("INSERT INTO digest_migrations VALUES (%s, '2026-01-01')", (name,))
        conn.execute(
            "INSERT INTO digests (created_at, status, message_id, subject, paper_count, html,"
            " text, markdown, json, eml) VALUES ('2026-01-01T07:00:00+00:00', 'pending',"
            " '<one@x>', 's', 1, '<p>é</p>', 'é', '', '{}', 'mail one')"
        )
    with state.open(postgres) as store:
        [one] = store.outgoing(status="pending")
        assert one.parts == {"html": "<p>é</p>", "text": "é", "json": "{}"}
        assert one.eml == b"mail one"
