"""The state on a real PostgreSQL server, through the real command line: the commands, the same
digests as on SQLite, several `digest serve` on one database, a worker killed mid-delivery."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import psycopg

from digest import state
from digest.state.postgres import MIGRATIONS
from tests.mailserver import Handler, smtp_server
from tests.test_printable import digest
from tests.test_service import Serve, serves, until

__all__ = ["serves"]  # the fixture, used by name

REAL = Path(__file__).parent / "fixtures" / "real"
SEEDS = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))


def with_password(url: str) -> str:
    """The URL with a password in it (the test server trusts loopback, so it is not checked)."""
    return url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@", 1)


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


TAKEOVER_SECONDS = 5  # FOLLOW_SECONDS (1 s) after the leader's connection ends, and slack


def test_of_two_services_one_leads_and_the_other_takes_over_when_it_is_killed(
    postgres: str, tmp_path: Path, serves: list[Serve]
) -> None:
    from tests.test_service import digests

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
    """A mail server that takes its time over a message, and tells when one starts coming in."""

    def __init__(self, delay: float) -> None:
        import threading

        super().__init__(delay=delay)
        self.receiving = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.receiving.set()
        return await super().handle_DATA(server, session, envelope)


def test_a_digest_whose_worker_is_killed_mid_delivery_is_delivered_by_another_the_same(
    postgres: str, tmp_path: Path, serves: list[Serve]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    handler = SlowHandler(delay=1)
    with smtp_server(handler) as mail:
        # A delivery cut short is not tried again before its retry time: 1 s, under the lease.
        env = {**mail.environment(), "DIGEST_FROM": "p@example.org", "DIGEST_TO": "a@example.org",
               "DIGEST_LEASE_SECONDS": "5", "DIGEST_RETRY_SECONDS": "1"}  # fmt: skip
        first = _serve(tmp_path, inbox, postgres, serves, **env)
        first.wait_for("serving:")
        shutil.copy(SEEDS[0], inbox)
        assert handler.receiving.wait(20), first.text()
        first.proc.send_signal(signal.SIGKILL)  # while the server still takes the message in
        first.proc.wait()
        killed = time.monotonic()
        second = _serve(tmp_path, inbox, postgres, serves, **env)
        until(lambda: _statuses(postgres) == ["sent"], 30, f"a delivery in\n{second.text()}")
        # Not before the killed worker's lease (5 s) ran out: unclaimed, it would be sent
        # within about 2 s (a look each second, a second to take the message in).
        assert time.monotonic() - killed >= 4
        assert "mailed to 1 recipient" in second.text()
        assert second.stop() == 0
        ids = {m.message["Message-ID"] for m in mail.received}
    import psycopg

    with psycopg.connect(postgres) as db:
        stored = db.execute("SELECT message_id FROM digests").fetchall()
    assert len(stored) == 1 and len(mail.received) >= 1
    assert ids == {stored[0][0]}  # every copy, if the first got through too, the same message
    assert "Traceback" not in first.text() + second.text()


def _statuses(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as db:
        return [row[0] for row in db.execute("SELECT status FROM digests ORDER BY id")]


def test_a_database_with_a_column_a_format_keeps_every_digest_as_it_was(postgres: str) -> None:
    """Upgraded, the outbox keeps each digest's renderings by format name: those it had (an
    empty one was not made), and nothing else."""
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("CREATE TABLE digest_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for name, script in MIGRATIONS[:2]:
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
