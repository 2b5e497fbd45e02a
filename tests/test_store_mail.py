"""The outbox's mail additions: the delivery note, and upgrading a state file made before it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from digest import store as store_module
from digest.store import Store


def test_a_state_file_from_before_gets_the_delivery_note(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    store_module._m001_initial(db)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    db.execute("INSERT INTO migrations VALUES ('_m001_initial', '2025-03-01T00:00:00+00:00')")
    db.execute(
        "INSERT INTO digests (created_at, status, message_id, subject, paper_count, html, text,"
        " markdown, json) VALUES ('2025-03-01T07:00:00+00:00', 'pending', '<old@x>', 's', 1,"
        " 'h', 't', 'm', '{}')"
    )
    db.execute("COMMIT")
    db.close()

    with Store.open(path) as store:
        [old] = store.outgoing(status="pending")
        assert old.eml is None and old.delivery_note is None
        store.mark_sent(old.id, "mailed to 2 recipients via mail.example.org:587")
        sent = store.get(old.id)
        assert sent is not None and sent.status == "sent"
        assert sent.delivery_note == "mailed to 2 recipients via mail.example.org:587"
        applied = [r[0] for r in store.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert applied[:2] == ["_m001_initial", "_m002_email_delivery_note"]
