"""A state moved between backends, for real: SQLite to PostgreSQL and back. Whoever left stays
gone, links already mailed still work, and no paper is shown to a reader twice."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from digest.errors import StoreError
from digest.state import location
from digest.state import open as open_state
from digest.state.transfer import TABLES, copy
from tests.conftest import SEEDS
from tests.mailserver import Received, smtp_server
from tests.processes import clean_env
from tests.web.test_readers import EMAILS, site, start_web

ARXIV = re.compile(r"\b(\d{4}\.\d{4,5})\b")


def shown(message: Received) -> set[str]:
    """The arXiv ids a message's text part shows."""
    body = message.message.get_body(("plain",))
    assert body is not None
    return set(ARXIV.findall(str(body.get_content())))


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def seeded(path: Path) -> Path:
    """A state file that has read the seeds."""
    inbox = path.parent / "seeds-inbox"
    inbox.mkdir()
    for seed in list(SEEDS.glob("*.txt"))[:2]:
        (inbox / seed.name).write_bytes(seed.read_bytes())
    done = run("ingest", "--state", str(path), *map(str, inbox.iterdir()))
    assert done.returncode == 0, done.stderr
    return path


def counts(where: str) -> dict[str, int]:
    with open_state(where) as store:
        return dict(store.counts())


def test_a_copy_holds_every_row_and_says_what_it_moved(tmp_path: Path, postgres: str) -> None:
    source = seeded(tmp_path / "state.sqlite3")
    before = counts(str(source))
    done = copy(source, location(postgres))
    assert [t.name for t in done.tables] == list(TABLES)
    papers = before["papers_seen"] + before["papers_pending"]
    assert papers > 100 and done.rows("papers") == papers and done.rows("dumps") == 2
    assert counts(postgres) == before
    line = done.line(source, location(postgres))
    assert f"{papers:,} papers, 2 dumps read" in line and "they match" in line
    # And back, into a new file: the same rows, the same checksums.
    back = tmp_path / "back.sqlite3"
    again = copy(location(postgres), back)
    assert again.tables == done.tables
    assert counts(str(back)) == before


@pytest.mark.slow
def test_a_target_that_holds_anything_is_refused_unless_replaced(
    tmp_path: Path, postgres: str
) -> None:
    source = seeded(tmp_path / "state.sqlite3")
    copy(source, location(postgres))
    (tmp_path / "other").mkdir()
    other = seeded(tmp_path / "other" / "state.sqlite3")
    with sqlite3.connect(other) as db:
        db.execute("DELETE FROM paper_keys")
        db.execute("DELETE FROM papers WHERE id % 2 = 0")
    smaller = counts(str(other))
    with pytest.raises(StoreError, match=r"is not empty \(it holds papers, dumps.*--replace"):
        copy(other, location(postgres))
    assert counts(postgres) == counts(str(source))  # untouched
    copy(other, location(postgres), replace=True)
    assert counts(postgres) == smaller


def test_a_state_is_not_copied_onto_itself_nor_from_nowhere(tmp_path: Path) -> None:
    source = seeded(tmp_path / "state.sqlite3")
    with pytest.raises(StoreError, match="onto itself"):
        copy(source, source)
    with pytest.raises(StoreError, match="there is no state file"):
        copy(tmp_path / "missing.sqlite3", tmp_path / "new.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()


@pytest.mark.slow
def test_moved_to_postgresql_and_back_no_one_who_left_is_mailed_and_nothing_shows_twice(
    tmp_path: Path, postgres: str
) -> None:
    ann, bob, cy = EMAILS
    sqlite_state = tmp_path / "state.sqlite3"
    with site(tmp_path, str(sqlite_state)) as here:
        seen: dict[str, set[str]] = {}

        def note(got: dict[str, list[Received]]) -> None:
            for email, messages in got.items():
                for message in messages:
                    ids = shown(message)
                    assert not ids & seen.get(email, set()), f"shown to {email} again"
                    seen.setdefault(email, set()).update(ids)

        day0: dict[str, list[Received]] = {}
        for message in here.smtp.received:
            day0.setdefault(message.recipients[0], []).append(message)
        note(day0)
        token = here.tokens
        gone = httpx.post(
            f"{here.url}/unsubscribe/{token[ann]}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert gone.status_code == 200
        form = {
            "csrf": here.csrf("preferences", bob),
            "delivery": "send",
            "schedule": "",
            "highlight": "Goose",
            "exclude": "",
            "interests": "",
        }
        assert httpx.post(f"{here.url}/preferences/{token[bob]}", data=form).status_code == 200
        prefs = here.prefs()

        # To PostgreSQL, as an operator does: the next day's digests come from there.
        moved = run("state", "copy", str(sqlite_state), postgres)
        assert moved.returncode == 0, moved.stderr
        assert "they match" in moved.stdout and postgres.rpartition("@")[2] in moved.stdout
        refused = run("state", "copy", str(sqlite_state), postgres)
        assert refused.returncode == 1 and "add --replace" in refused.stderr
        assert len(refused.stderr.splitlines()) == 1
        here.env["DIGEST_STATE"] = postgres
        assert here.prefs() == prefs
        day1 = here.run_next_day(1)
        assert sorted(day1) == [bob, cy]  # ann unsubscribed on SQLite stays so
        note(day1)
        proc, url = start_web(here.env, tmp_path)
        try:  # links mailed from the SQLite state work on PostgreSQL's
            page = httpx.get(f"{url}/preferences/{token[bob]}")
            assert page.status_code == 200 and 'value="Goose"' in page.text
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)

        # And back to the SQLite file, which still holds the first day: replaced whole.
        copy(location(postgres), sqlite_state, replace=True)
        here.env["DIGEST_STATE"] = str(sqlite_state)
        day2 = here.run_next_day(2)
        assert sorted(day2) == [bob, cy]
        note(day2)
        assert here.prefs() == prefs


@pytest.mark.slow
def test_a_new_state_beside_an_inbox_another_state_read_mails_no_one_and_says_why(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for seed in list(SEEDS.glob("*.txt"))[:2]:
        (inbox / seed.name).write_bytes(seed.read_bytes())
    old, new = tmp_path / "old.sqlite3", tmp_path / "new.sqlite3"
    with smtp_server() as smtp:
        env = {
            **smtp.environment(),
            "DIGEST_INBOX": str(inbox),
            "DIGEST_FROM": "papers@example.org",
            "DIGEST_TO": "ann@example.org",
            "DIGEST_DELIVER": "smtp",
        }
        assert run("now", **env, DIGEST_STATE=str(old)).returncode == 0
        assert len(smtp.received) == 1

        refused = run("now", **env, DIGEST_STATE=str(new))
        assert refused.returncode == 1 and len(smtp.received) == 1  # no one mailed again
        (line,) = refused.stderr.splitlines()
        assert f"the state {new} has read nothing yet" in line
        assert f"digest state copy {old} {new}" in line

        copy(old, new)  # moved: nothing is new to it
        moved = run("now", **env, DIGEST_STATE=str(new))
        assert moved.returncode == 0 and len(smtp.received) == 1, moved.stderr

        # Started afresh on purpose: the mark deleted, the new state mails it all again.
        fresh = tmp_path / "fresh.sqlite3"
        (inbox / ".digest-state").unlink()
        assert run("now", **env, DIGEST_STATE=str(fresh)).returncode == 0
        assert len(smtp.received) == 2
