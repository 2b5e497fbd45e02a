"""Many readers through the real CLI: a readers file, days of real listings, a real SMTP
server. Each reader gets exactly the papers new to them, once, in one message addressed to
them alone; a reader whose address is refused holds nobody back."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from digest.state import open as open_state
from tests.mailserver import Handler, Received, Server, smtp_server

REAL = Path(__file__).parent / "fixtures" / "real"
DAYS = ["2025-03-18.json", "2025-03-19.json", "2025-07-22.json"]
ABS = re.compile(rb"(?:arxiv\.org/abs|huggingface\.co/papers)/(\d{4}\.\d{4,5})")


def ids_of(day: str) -> list[str]:
    """The arXiv ids a real day lists, in order."""
    items = json.loads((REAL / day).read_text())
    return [item["paper"]["id"] for item in items]


def run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tmp_path,
        timeout=120,
    )


def shown(message: Received) -> set[str]:
    """The arXiv ids a message shows (its parts and attachment, decoded)."""
    found: set[str] = set()
    for part in message.message.walk():
        if part.get_content_maintype() == "text":
            found.update(m.decode() for m in ABS.findall(part.get_payload(decode=True)))
    return found


def by_reader(received: list[Received]) -> dict[str, list[Received]]:
    found: dict[str, list[Received]] = {}
    for message in received:
        assert len(message.recipients) == 1, message.recipients  # one reader a message
        found.setdefault(message.recipients[0], []).append(message)
    return found


READERS = """
[[reader]]
email = "ann@example.org"
name = "Ann Lee"
highlight = ["video"]
max_papers = 5

[[reader]]
email = "bob@example.org"
schedule = "@weekly"
order = "upvotes"

[[reader]]
email = "carol@example.org"
paused = true

[[reader]]
email = "dave@example.org"
format = "text"
"""

ERIN = """
[[reader]]
email = "erin@example.org"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "readers.toml").write_text(READERS)
    return {
        "DIGEST_INBOX": str(inbox),
        "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
        "DIGEST_READERS": str(tmp_path / "readers.toml"),
        "DIGEST_FROM": "Papers <papers@example.org>",
        "DIGEST_DELIVER": "smtp",
        "DIGEST_UNSUBSCRIBE": "https://papers.example.org/u/{token}",
    }


@pytest.mark.slow
def test_each_reader_gets_the_papers_new_to_them_once_and_a_refused_one_holds_nobody_back(
    tmp_path: Path, env: dict[str, str]
) -> None:
    inbox = Path(env["DIGEST_INBOX"])
    refused = Handler(refuse_rcpt={"dave@example.org": "550 5.1.1 No such user"})
    with smtp_server(refused) as server:
        env.update(server.environment())
        day1, day2, day3 = (ids_of(d) for d in DAYS)

        shutil.copy(REAL / DAYS[0], inbox)
        first = run(tmp_path, env, "now")
        assert first.returncode == 1, first.stderr  # one reader's digest failed: said, and exit 1
        got = by_reader(server.received)
        assert sorted(got) == ["ann@example.org", "bob@example.org"]  # carol paused, dave refused
        assert "dave@example.org" in first.stderr and "Traceback" not in first.stderr
        for email in got:
            [message] = got[email]
            assert message.message["To"].addresses[0].addr_spec == email
            assert shown(message) == set(day1)
        assert got["ann@example.org"][0].message["To"].addresses[0].display_name == "Ann Lee"
        # Each its own Message-ID and its own unsubscribe token, in the header and the body.
        ann, bob = (got[e][0].message for e in ("ann@example.org", "bob@example.org"))
        assert ann["Message-ID"] != bob["Message-ID"]
        tokens = {m["List-Unsubscribe"].strip() for m in (ann, bob)}
        assert len(tokens) == 2 and all(
            re.fullmatch(r"<https://papers\.example\.org/u/[0-9a-f]{32}>", t) for t in tokens
        )
        token = ann["List-Unsubscribe"].strip().strip("<>")
        assert token.encode() in b"".join(
            p.get_payload(decode=True) for p in ann.walk() if p.get_content_maintype() == "text"
        )

        # Day two: erin joins, carol is resumed, and the server accepts dave again.
        (tmp_path / "readers.toml").write_text(READERS.replace("paused = true", "") + ERIN)
        refused.refuse_rcpt.clear()
        server.received.clear()
        shutil.copy(REAL / DAYS[1], inbox)
        second = run(tmp_path, env, "now")
        assert second.returncode == 0, second.stderr
        got = by_reader(server.received)
        assert shown(got["ann@example.org"][0]) == set(day2) - set(day1)
        assert shown(got["bob@example.org"][0]) == set(day2) - set(day1)
        assert shown(got["erin@example.org"][0]) == set(day2) - set(day1)  # from when added
        # Paused readers miss nothing: carol gets both days (her mail budget permitting).
        assert shown(got["carol@example.org"][0]) == set(day1) | set(day2)
        # Dave's refused digest stays his, failed: the new one has day two only.
        assert shown(got["dave@example.org"][0]) == set(day2) - set(day1)
        dave = got["dave@example.org"][0].message
        assert dave.get_content_type() == "text/plain"  # his mail has no HTML
        link = dave["List-Unsubscribe"].strip().strip("<>")  # and his own link in its body
        assert f"Unsubscribe: {link}" in dave.get_content() and link.endswith(
            tuple("0123456789abcdef")
        )

        server.received.clear()
        resent = run(tmp_path, env, "resend", "--reader", "Dave@Example.org")
        assert resent.returncode == 0, resent.stderr
        [again] = by_reader(server.received)["dave@example.org"]
        assert shown(again) == set(day1)

        # Day three, only for ann and erin: the others keep theirs for their next digest.
        server.received.clear()
        shutil.copy(REAL / DAYS[2], inbox)
        third = run(
            tmp_path, env, "now", "--reader", "ann@example.org", "--reader", "erin@example.org"
        )
        assert third.returncode == 0, third.stderr
        got = by_reader(server.received)
        assert sorted(got) == ["ann@example.org", "erin@example.org"]
        assert shown(got["ann@example.org"][0]) == set(day3)
        server.received.clear()
        fourth = run(tmp_path, env, "now")
        assert fourth.returncode == 0, fourth.stderr
        got = by_reader(server.received)
        assert sorted(got) == ["bob@example.org", "carol@example.org", "dave@example.org"]
        assert all(shown(got[e][0]) == set(day3) for e in got)

        # Nothing new for anyone: nothing is sent.
        server.received.clear()
        assert run(tmp_path, env, "now").returncode == 0
        assert server.received == []

        listing = run(tmp_path, env, "readers")
        assert listing.returncode == 0, listing.stderr
        lines = {line.split(":")[0]: line for line in listing.stdout.splitlines()}
        assert "failed: 0" in lines["dave@example.org"] and "pending: 0" in lines["ann@example.org"]
        assert "0 new papers waiting" in lines["erin@example.org"]


def test_a_reader_who_excludes_everything_is_moved_on_without_a_message(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "readers.toml").write_text(
        '[[reader]]\nemail = "ann@example.org"\nexclude = "."\n'
        '[[reader]]\nemail = "bob@example.org"\n'
    )
    with smtp_server() as server:
        env.update(server.environment())
        shutil.copy(REAL / DAYS[0], Path(env["DIGEST_INBOX"]))
        assert run(tmp_path, env, "now").returncode == 0
        assert sorted(by_reader(server.received)) == ["bob@example.org"]
    with open_state(Path(env["DIGEST_STATE"])) as store:
        end = store.end()
        assert {r.key: r.upto for r in store.all_readers()} == {
            "": end,  # the public digest's reader: moved on with every run
            "ann@example.org": end,
            "bob@example.org": end,
        }


def test_a_reader_who_asks_for_the_abstracts_gets_them_and_the_others_a_short_digest(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "readers.toml").write_text(
        '[[reader]]\nemail = "ann@example.org"\ndetail = "full"\n'
        '[[reader]]\nemail = "bob@example.org"\n'
    )
    abstract = json.loads((REAL / DAYS[0]).read_text())[0]["paper"]["summary"]
    opening = " ".join(abstract.split())[:60]
    with smtp_server() as server:
        env.update(server.environment())
        shutil.copy(REAL / DAYS[0], Path(env["DIGEST_INBOX"]))
        assert run(tmp_path, env, "now").returncode == 0
        got = by_reader(server.received)
    texts = {
        who: " ".join(m.message.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
        for who, [m] in got.items()
    }
    assert opening in texts["ann@example.org"]
    assert opening not in texts["bob@example.org"]
    assert shown(got["bob@example.org"][0]) == set(ids_of(DAYS[0]))  # every paper, a line each


@pytest.mark.slow
def test_a_reader_with_since_gets_the_listings_from_that_day(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "readers.toml").write_text('[[reader]]\nemail = "ann@example.org"\n')
    inbox = Path(env["DIGEST_INBOX"])
    with smtp_server() as server:
        env.update(server.environment())
        for day in DAYS[:2]:
            shutil.copy(REAL / day, inbox)
        assert run(tmp_path, env, "now").returncode == 0
        (tmp_path / "readers.toml").write_text(
            '[[reader]]\nemail = "ann@example.org"\n'
            '[[reader]]\nemail = "zoe@example.org"\nsince = 2025-03-19\n'
        )
        server.received.clear()
        assert run(tmp_path, env, "now").returncode == 0
        got = by_reader(server.received)
        assert sorted(got) == ["zoe@example.org"]
        assert shown(got["zoe@example.org"][0]) == set(ids_of(DAYS[1])) - set(ids_of(DAYS[0]))


def test_readers_check_names_each_mistake_and_counts_readers(tmp_path: Path) -> None:
    path = tmp_path / "readers.toml"
    path.write_text(
        '[[reader]]\nemail = "ann@example.org"\n\n[[reader]]\nemail = "bob@example.org"\n'
        'order = "best"\nformat = "pdf"\n'
    )
    done = run(tmp_path, {}, "readers", "check", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "readers.toml:6" in done.stderr and "order" in done.stderr
    assert "readers.toml:7" in done.stderr and "format" in done.stderr
    # Two readers: one taken, one with (two) errors.
    assert done.stdout == f"{path}: 1 reader ok (0 paused), 1 with errors\n"


@pytest.mark.slow
def test_what_readers_change_themselves_wins_over_the_file_and_their_token_finds_them(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "readers.toml").write_text(
        '[[reader]]\nemail = "ann@example.org"\n[[reader]]\nemail = "bob@example.org"\n'
        '[[reader]]\nemail = "cy@example.org"\n'
    )
    inbox = Path(env["DIGEST_INBOX"])
    with smtp_server() as server:
        env.update(server.environment())
        shutil.copy(REAL / DAYS[0], inbox)
        assert run(tmp_path, env, "now").returncode == 0
        ann = by_reader(server.received)["ann@example.org"][0].message
        token = ann["List-Unsubscribe"].strip().strip("<>").rpartition("/")[2]
        with open_state(Path(env["DIGEST_STATE"])) as store:
            found = store.reader_by_token(token)
            assert found is not None and found.key == "ann@example.org"
            assert store.reader_by_token("0" * 32) is None
            ids = {r.key: r.id for r in store.all_readers()}
            store.set_prefs(ids["ann@example.org"], {"unsubscribed": True})
            store.set_prefs(ids["bob@example.org"], {"exclude": "."})
        server.received.clear()
        shutil.copy(REAL / DAYS[1], inbox)
        assert run(tmp_path, env, "now").returncode == 0
        assert sorted(by_reader(server.received)) == ["cy@example.org"]
        with open_state(Path(env["DIGEST_STATE"])) as store:
            uptos = {r.key: r.upto for r in store.all_readers()}
        # Bob excluded everything: moved on. Ann unsubscribed: kept where she was.
        assert uptos["bob@example.org"] == uptos["cy@example.org"] > uptos["ann@example.org"]


def day_one(
    tmp_path: Path, env: dict[str, str], server: Server
) -> subprocess.CompletedProcess[str]:
    """`digest now` of the first real day, by mail to this server."""
    env.update(server.environment())
    shutil.copy(REAL / DAYS[0], Path(env["DIGEST_INBOX"]))
    return run(tmp_path, env, "now")


def test_tables_left_out_cost_only_their_readers_and_the_run_fails_saying_what_to_do(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "readers.toml"
    path.write_text(
        '[[reader]]\nemail = "ann@example.org"\n\n'
        '[[reader]]\nemail = "bob@example.org"\norder = "best"\nformat = "pdf"\n\n'
        '[[reader]]\nname = "Cy"\n'
    )
    with smtp_server() as server:
        done = day_one(tmp_path, env, server)
        assert sorted(by_reader(server.received)) == ["ann@example.org"]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    said = [line for line in done.stderr.splitlines() if str(path) in line]
    check = f"(`digest readers check {path}` lists every mistake)"
    assert said == [
        f"digest: {path}:6: reader 2 (bob@example.org): order: 'best' is not one of highlights,"
        " listing, upvotes, relevance (and 1 more mistake); this reader gets nothing until it"
        f" is fixed, and misses nothing {check}",
        f'digest: {path}:9: reader 3: email: missing; add email = "name@example.org"; this'
        f" reader is left out {check}",
    ]


def test_a_scheduled_run_with_a_table_left_out_serves_the_others_and_is_a_failure(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from digest.config import Settings
    from digest.service.schedule import parse_schedule
    from digest.service.service import Service, reader_groups

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = tmp_path / "readers.toml"
    path.write_text(
        '[[reader]]\nemail = "ann@example.org"\nschedule = "@daily"\n\n'
        '[[reader]]\nemail = "bob@example.org"\nschedule = "@daily"\norder = "best"\n'
    )
    utc = ZoneInfo("UTC")
    with smtp_server() as server:
        settings = Settings(
            inbox=inbox,
            state=tmp_path / "state.sqlite3",
            readers=path,
            from_="papers@example.org",
            deliver="smtp",
            smtp_host=server.host,
            smtp_port=server.port,
            smtp_security="none",
        )
        from digest.channels import deliverer

        service = Service(
            settings,
            deliverer(settings, dry_run=False),
            parse_schedule("@daily", utc),
            utc,
            lambda: datetime(2026, 3, 10, 0, 0, 1, tzinfo=UTC),
        )
        service.groups = {g.key: g for _, g in reader_groups(settings)}
        shutil.copy(REAL / DAYS[0], inbox)
        with open_state(settings.state) as store:
            service.poll(store)
            service.poll(store)
        [group] = service.groups
        service.run_scheduled(group)
        assert sorted(by_reader(server.received)) == ["ann@example.org"]
    with open_state(settings.state) as store:
        state = store.service_state()
    assert state["last_result"].startswith(f"{path}:8: reader 2 (bob@example.org): order:")
    assert "last_success" not in state


@pytest.mark.slow
def test_readers_lists_what_a_run_uses_marking_what_readers_chose_themselves(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "readers.toml").write_text(
        '[[reader]]\nemail = "ann@example.org"\nhighlight = ["video"]\n'
        '[[reader]]\nemail = "bob@example.org"\n'
        '[[reader]]\nemail = "cy@example.org"\nschedule = "@weekly"\npaused = true\n'
    )
    with smtp_server() as server:
        assert day_one(tmp_path, env, server).returncode == 0
        with open_state(Path(env["DIGEST_STATE"])) as store:
            ids = {r.key: r.id for r in store.all_readers()}
            store.set_prefs(ids["ann@example.org"], {"schedule": "@weekly", "exclude": "survey"})
            store.set_prefs(ids["bob@example.org"], {"unsubscribed": True})
        shutil.copy(REAL / DAYS[1], Path(env["DIGEST_INBOX"]))
        assert run(tmp_path, env, "now").returncode == 0
    listing = run(tmp_path, env, "readers")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split(":")[0]: line for line in listing.stdout.splitlines()}
    both = len(set(ids_of(DAYS[0])) | set(ids_of(DAYS[1])))
    assert lines["ann@example.org"].startswith(
        "ann@example.org: @weekly (theirs), highlight: video, exclude: survey (theirs);"
        " last delivered: "
    )
    assert lines["ann@example.org"].endswith("; 0 new papers waiting; pending: 0; failed: 0")
    # Bob unsubscribed on his own page: nothing waits for him, since nothing will be sent.
    assert lines["bob@example.org"].startswith("bob@example.org: 0 7 * * *, unsubscribed (theirs);")
    assert "waiting" not in lines["bob@example.org"]
    assert lines["cy@example.org"] == (
        f"cy@example.org: @weekly, paused; last delivered: never; {both} new papers"
        " waiting; pending: 0; failed: 0"
    )
    assert lines["(theirs)"] == (
        "(theirs): chosen by the reader on their own pages, over the readers file"
    )
