"""What `digest status` and `digest check` say, line by line, from values (no state, no files),
and `digest status` saying how many readers the state has, through the real command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from digest import overview, state
from digest.config import Settings
from digest.models import Dump, Outgoing, Paper, ReaderState, Rejected
from digest.readers import THEIRS, address_key, listing, load
from tests.processes import clean_env

NONE = {"readers": 0, "paused": 0, "unsubscribed": 0}
COUNTS = {"papers_seen": 1200, "papers_pending": 63, "dumps": 30}


def _digest(number: int, status: str, **more: object) -> Outgoing:
    return Outgoing(
        number,
        datetime(2025, 3, number, 7, 0, tzinfo=UTC),
        status,
        f"<m{number}@x>",
        "S",
        10 + number,
        {"text": "t"},
        **more,  # type: ignore[arg-type]
    )


def test_status_of_a_new_state_is_its_file_and_its_counts() -> None:
    counts = {"papers_seen": 0, "papers_pending": 0, "dumps": 0}
    assert overview.status_lines("/s.db", counts, NONE, [], [], [], []) == [
        "state file: /s.db",
        "papers seen: 0; awaiting delivery: 0; dumps ingested: 0",
    ]


def test_status_lists_the_outbox_the_last_sent_the_rejected_and_the_rest_in_order() -> None:
    retry = datetime(2025, 3, 9, 8, 30, tzinfo=UTC)
    pending = _digest(9, "pending", attempts=2, last_error="421 later", next_attempt=retry)
    waiting = _digest(8, "pending")
    failed = _digest(7, "failed", attempts=1, last_error="550 no such user")
    sent = [
        _digest(n, "sent", sent_at=datetime(2025, 3, n, 7, 1, tzinfo=UTC), delivery_note=note)
        for n, note in ((6, "to 2 recipients"), (5, None), (4, None), (3, None), (2, None))
    ]
    older = _digest(1, "sent")  # the sixth sent: not shown
    bad, told = Rejected("bad.json", "not a listing"), Rejected("old.txt", "file is empty")
    lines = overview.status_lines(
        "postgresql://u:***@h/db",
        COUNTS,
        {"readers": 10_000, "paused": 12, "unsubscribed": 3},
        [pending, waiting, failed],
        [pending, failed, *sent, older],
        [bad],
        [bad, told],
        archive="/srv/papers",
        notify=["json://127.0.0.1/...", "tgram://..."],
        service=["service: running (pid 42) since x, schedule y"],
    )
    assert lines == [
        "state file: postgresql://u:***@h/db",
        "papers seen: 1200; awaiting delivery: 63; dumps ingested: 30",
        "readers: 10000; paused on their own: 12; unsubscribed: 3",
        "pending: digest 9 of 2025-03-09 07:00 UTC, 19 papers, 2 attempts; next try after"
        " 2025-03-09 08:30 UTC; last error: 421 later",
        "pending: digest 8 of 2025-03-08 07:00 UTC, 18 papers, 0 attempts; last error: none",
        "failed: digest 7 of 2025-03-07 07:00 UTC, 17 papers, 1 attempts; send it again with"
        " `digest resend 7`; last error: 550 no such user",
        "sent: digest 6, 16 papers, at 2025-03-06 07:01 UTC; to 2 recipients",
        "sent: digest 5, 15 papers, at 2025-03-05 07:01 UTC",
        "sent: digest 4, 14 papers, at 2025-03-04 07:01 UTC",
        "sent: digest 3, 13 papers, at 2025-03-03 07:01 UTC",
        "sent: digest 2, 12 papers, at 2025-03-02 07:01 UTC",
        "rejected: bad.json: not a listing (to be named in the next digest)",
        "rejected: old.txt: file is empty",
        "archive: /srv/papers",
        "notify: json://127.0.0.1/..., tgram://...",
        "service: running (pid 42) since x, schedule y",
    ]


def test_status_says_every_moment_in_the_service_s_zone_and_whose_each_digest_is() -> None:
    from zoneinfo import ZoneInfo

    retry = datetime(2025, 3, 9, 8, 30, tzinfo=UTC)
    pending = _digest(9, "pending", attempts=2, last_error="421 later", next_attempt=retry)
    sent = _digest(6, "sent", sent_at=datetime(2025, 7, 6, 5, 1, tzinfo=UTC), reader=3)
    lines = overview.status_lines(
        "s",
        COUNTS,
        {"readers": 0},
        [pending],
        [sent],
        [],
        [],
        zone=ZoneInfo("Europe/Berlin"),
        names={3: "ann@example.org", 1: ""},
    )
    assert lines[2:] == [
        "pending: digest 9 of 2025-03-09 08:00 CET, 19 papers, 2 attempts; next try after"
        " 2025-03-09 09:30 CET; last error: 421 later",
        "sent: digest 6 for ann@example.org, 16 papers, at 2025-07-06 07:01 CEST",  # summer
    ]


def test_check_says_format_encoding_count_day_warnings_and_the_first_titles() -> None:
    papers = tuple(Paper(f"Title {n}", "a") for n in range(5))
    dump = Dump("d.json", "f" * 64, papers, "Mar 18", "utf-8", "json", ("item 3: skipped",))
    assert overview.check_lines("in/d.json", dump, 3) == [
        "in/d.json: json dump, utf-8, 5 papers, Mar 18",
        "  warning: item 3: skipped",
        "  - Title 0",
        "  - Title 1",
        "  - Title 2",
        "  ... and 2 more",
    ]
    listed = Dump("d.txt", "f" * 64, papers[:1], None, "latin-1", "text", (), "2025-03-18")
    assert overview.check_lines("d.txt", listed, 3) == [
        "d.txt: text dump, latin-1, 1 papers, Tue 18 Mar 2025",
        "  - Title 0",
    ]
    undated = Dump("u.txt", "f" * 64, (), None)
    assert overview.check_lines("u.txt", undated, 3) == [
        "u.txt: text dump, utf-8, 0 papers, no date"
    ]
    assert (
        overview.unreadable_line("x.txt", "file is empty") == "x.txt: cannot be read: file is empty"
    )


def test_status_says_how_many_readers_paused_or_unsubscribed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with state.open(path) as store:
        joined = store.join({f"r{n}@example.org": None for n in range(4)})
        store.set_prefs(joined["r0@example.org"].id, {"paused": True})
        store.set_prefs(joined["r1@example.org"].id, {"unsubscribed": True})
    done = subprocess.run(
        [sys.executable, "-m", "digest", "status", "--state", str(path)],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        f"state file: {path}",
        "papers seen: 0; awaiting delivery: 0; dumps ingested: 0",
        "readers: 4; paused on their own: 1; unsubscribed: 1",
    ]


def test_status_names_ten_digests_of_a_kind_and_counts_the_others() -> None:
    """After a mail server's outage with many readers, the outbox is counted, not listed."""
    outbox = [_digest(n, "pending") for n in range(1, 13)] + [_digest(20, "failed")]
    lines = overview.status_lines("/s.db", COUNTS, NONE, outbox, [], [], [])
    pending = [line for line in lines if line.startswith("pending: ")]
    assert len(pending) == 11 and pending[-1] == "pending: and 2 more digests"
    assert [line for line in lines if line.startswith("failed: ")] == [
        "failed: digest 20 of 2025-03-20 07:00 UTC, 30 papers, 0 attempts; send it again with"
        " `digest resend 20`; last error: none"
    ]


def _state(n: int, email: str, upto: int = 0, **prefs: object) -> ReaderState:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return ReaderState(n, address_key(email), upto, when, prefs=prefs)


def test_the_readers_listing_is_a_line_a_reader_and_says_what_marks_their_own(
    tmp_path: Path,
) -> None:
    text = '[[reader]]\nemail = "ann@example.org"\n[[reader]]\nemail = "bob@example.org"\n'
    settings = Settings(schedule="@daily")
    (tmp_path / "readers.toml").write_text(text)
    loaded = load(tmp_path / "readers.toml")
    states = [_state(7, "Ann@example.org", upto=40)]
    outbox = {7: {"pending": 1, "failed": 2, "last_sent": "2026-01-02T07:00:00"}}
    lines = listing(loaded.readers, settings, states, outbox, 42)
    assert lines == [
        "ann@example.org: @daily; last delivered: 2026-01-02 07:00; 2 new papers waiting;"
        " pending: 1; failed: 2",
        "bob@example.org: @daily; no digest yet (joins at the next run)",
    ]
    states = [_state(7, "ann@example.org", upto=40, highlight="robots")]
    lines = listing(loaded.readers, settings, states, outbox, 42)
    assert lines[0].startswith(f"ann@example.org: @daily, highlight: robots {THEIRS};")
    assert lines[-1] == f"{THEIRS}: chosen by the reader on their own pages, over the readers file"
