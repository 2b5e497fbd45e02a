"""Many readers on every state backend (SQLite and PostgreSQL), through the real pipeline,
channels and a real SMTP server: one reader for every spelling of an address, and nothing
lost for a reader whatever earlier runs did (no reader yet, their table wrong for a while,
their own settings unusable)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import config
from digest.channels import deliverer
from digest.pipeline import Report, run_once
from digest.state import open as open_state
from tests.mailserver import Received, Server, smtp_server

REAL = Path(__file__).parent / "fixtures" / "real"
DAYS = ["2025-03-18.json", "2025-03-19.json"]


def ids_of(*days: str) -> set[str]:
    """The arXiv ids the real days list."""
    return {item["paper"]["id"] for day in days for item in json.loads((REAL / day).read_text())}


def shown(message: Received) -> set[str]:
    """The arXiv ids a message links to (its arXiv page or its paper page)."""
    import re

    found: set[str] = set()
    for part in message.message.walk():
        if part.get_content_maintype() == "text":
            body = part.get_payload(decode=True)
            found.update(
                m.decode()
                for m in re.findall(
                    rb"(?:arxiv\.org/abs|huggingface\.co/papers)/(\d{4}\.\d{4,5})", body
                )
            )
    return found


class Setup:
    """An inbox, a readers file, a state of one backend and a real SMTP server."""

    def __init__(self, tmp_path: Path, location: object, server: Server) -> None:
        self.inbox = tmp_path / "inbox"
        self.inbox.mkdir()
        self.file = tmp_path / "readers.toml"
        self.file.write_text("")
        self.server = server
        env = {
            **server.environment(),
            "DIGEST_INBOX": str(self.inbox),
            "DIGEST_STATE": str(location),
            "DIGEST_READERS": str(self.file),
            "DIGEST_FROM": "papers@example.org",
            "DIGEST_DELIVER": "smtp",
        }
        self.settings = config.load({}, env, delivering=True)

    def readers(self, *tables: str) -> None:
        self.file.write_text("".join(f"[[reader]]\n{t}\n\n" for t in tables))

    def day(self, name: str) -> None:
        shutil.copy(REAL / name, self.inbox)

    def run(self) -> tuple[Report, dict[str, set[str]]]:
        """A run (as `digest now`): its report, and what each address got."""
        self.server.received.clear()
        with open_state(self.settings.state) as store:
            report = run_once(
                self.settings, store, deliverer(self.settings, dry_run=False), datetime.now(UTC)
            )
        got: dict[str, set[str]] = {}
        for message in self.server.received:
            [to] = message.recipients
            assert to not in got, f"{to} got two messages"
            got[to] = shown(message)
        return report, got

    def ids(self) -> dict[str, int]:
        with open_state(self.settings.state) as store:
            return {r.key: r.id for r in store.all_readers()}


@pytest.fixture
def setup(tmp_path: Path, location: object) -> Iterator[Setup]:
    with smtp_server() as server:
        yield Setup(tmp_path, location, server)


def test_an_address_written_another_way_is_the_same_reader_and_stays_unsubscribed(
    setup: Setup,
) -> None:
    setup.readers('email = "bob@exämple.org"', 'email = "ann@example.org"')
    setup.day(DAYS[0])
    report, got = setup.run()
    assert report.ok, report.failed
    assert got == {"bob@xn--exmple-cua.org": ids_of(DAYS[0]), "ann@example.org": ids_of(DAYS[0])}
    ids = setup.ids()
    bob = next(i for key, i in ids.items() if key.startswith("bob@"))
    with open_state(setup.settings.state) as store:
        store.set_prefs(bob, {"unsubscribed": True})  # on his own page

    # The file now writes his address as mail is sent to it: still him, still unsubscribed.
    setup.readers('email = "bob@xn--exmple-cua.org"', 'email = "ann@example.org"')
    setup.day(DAYS[1])
    report, got = setup.run()
    assert report.ok, report.failed
    assert set(got) == {"ann@example.org"}
    assert setup.ids() == ids  # no second reader for him

    # Both ways at once: one table is refused, by a line naming the other, and he still
    # gets nothing.
    setup.readers(
        'email = "Bob@EXÄMPLE.org"', 'email = "ann@example.org"', 'email = "bob@xn--exmple-cua.org"'
    )
    report, got = setup.run()
    assert got == {}
    assert [line.split(": ", 1)[1] for line in report.failed] == [
        "reader 3 (bob@xn--exmple-cua.org): email: 'bob@xn--exmple-cua.org' is also the address"
        " of reader 1 (Bob@EXÄMPLE.org) at line 1; keep one [[reader]] table for them; this"
        f" reader is left out (`digest readers check {setup.file}` lists every mistake)"
    ]
    assert setup.ids() == ids


def test_a_run_without_a_reader_leaves_the_inbox_to_the_first_reader(setup: Setup) -> None:
    setup.day(DAYS[0])
    report, got = setup.run()  # an empty readers file
    assert got == {} and report.ok
    # The first reader, added without a since, gets what was waiting for a reader.
    setup.readers('email = "zoe@example.org"')
    report, got = setup.run()
    assert report.ok, report.failed
    assert got == {"zoe@example.org": ids_of(DAYS[0])}


def test_a_file_of_wrong_tables_only_has_no_reader_and_the_run_says_so(setup: Setup) -> None:
    setup.readers('email = "ann@example.org"\norder = "best"')
    setup.day(DAYS[0])
    report, got = setup.run()
    with open_state(setup.settings.state) as store:
        assert store.end() == 0 and store.counts()["dumps"] == 0  # nothing read, nothing offered
    assert got == {} and not report.ok
    assert report.failed[0].startswith(f"{setup.file}:3: reader 1 (ann@example.org): order:")
    setup.readers('email = "ann@example.org"\norder = "upvotes"')
    report, got = setup.run()
    assert got == {"ann@example.org": ids_of(DAYS[0])} and report.ok


def test_a_reader_whose_table_was_wrong_for_a_while_gets_what_was_listed_meanwhile(
    setup: Setup,
) -> None:
    setup.readers('email = "ann@example.org"', 'email = "bob@example.org"\norder = "best"')
    setup.day(DAYS[0])
    first, got = setup.run()
    assert got == {"ann@example.org": ids_of(DAYS[0])}  # the others are served

    setup.readers('email = "ann@example.org"', 'email = "bob@example.org"\norder = "upvotes"')
    setup.day(DAYS[1])
    report, got = setup.run()
    assert report.ok, report.failed
    assert got == {
        "ann@example.org": ids_of(DAYS[1]) - ids_of(DAYS[0]),
        "bob@example.org": ids_of(*DAYS),
    }
    # The first run failed, naming the file, the table and what to do.
    [line] = first.failed
    assert line.startswith(f"{setup.file}:6: reader 2 (bob@example.org): order: 'best' is not")
    assert line.endswith(f"(`digest readers check {setup.file}` lists every mistake)")


def test_a_reader_whose_own_settings_cannot_be_used_costs_only_them_and_misses_nothing(
    setup: Setup,
) -> None:
    setup.readers('email = "ann@example.org"', 'email = "bob@example.org"')
    setup.day(DAYS[0])
    setup.run()
    ids = setup.ids()
    with open_state(setup.settings.state) as store:  # as a state edited by hand might hold
        store.set_prefs(ids["bob@example.org"], {"highlight": "(unclosed"})
    setup.day(DAYS[1])
    broken, got = setup.run()
    assert set(got) == {"ann@example.org"}
    with open_state(setup.settings.state) as store:
        store.set_prefs(ids["bob@example.org"], {"highlight": "agents"})
    report, got = setup.run()
    assert report.ok, report.failed
    assert got == {"bob@example.org": ids_of(DAYS[1]) - ids_of(DAYS[0])}
    [line] = broken.failed
    assert line.startswith("reader bob@example.org: highlight: '(unclosed' is not a valid")
    assert line.endswith("nothing is made for them until it is fixed, and they miss nothing")
