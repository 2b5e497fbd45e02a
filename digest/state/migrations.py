"""The SQLite schema: small named migrations, applied in order and recorded in `migrations`.

A migration, once released, never changes: a state file records the names it has applied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from digest.errors import StoreError
from digest.models import Paper


def _execute_all(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it would commit the migration's transaction half-way.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m001_initial(db: sqlite3.Connection) -> None:
    _execute_all(
        db,
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            paper_count INTEGER NOT NULL,
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            markdown TEXT NOT NULL,
            json TEXT NOT NULL,
            eml BLOB,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            sent_at TEXT
        );
        CREATE INDEX digests_status ON digests (status, next_attempt_at);
        CREATE TABLE dumps (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            listing_date TEXT,
            paper_count INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ingested', 'rejected')),
            reason TEXT,
            digest_id INTEGER REFERENCES digests (id),
            ingested_at TEXT NOT NULL
        );
        CREATE TABLE papers (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            first_dump TEXT NOT NULL,
            listing_date TEXT,
            first_seen TEXT NOT NULL,
            digest_id INTEGER REFERENCES digests (id),
            seen INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX papers_digest ON papers (digest_id);
        CREATE TABLE paper_keys (
            key TEXT PRIMARY KEY,
            paper_id INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX paper_keys_paper ON paper_keys (paper_id);
        """,
    )


def _m002_email_delivery_note(db: sqlite3.Connection) -> None:
    # What the last delivery did, e.g. which recipients the mail server refused.
    db.execute("ALTER TABLE digests ADD COLUMN delivery_note TEXT")


def _m003_service_state(db: sqlite3.Connection) -> None:
    # What `digest serve` must remember across restarts (its last scheduled run, for the
    # catch-up) and shows in `digest status`: a few named values.
    db.execute(
        "CREATE TABLE service_state (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)"
    )


def _m004_identity_index(db: sqlite3.Connection) -> None:
    # The candidate index: title words and abstract sketch hashes (identity.index.grams). No foreign
    # key: a second index on paper_id would double the cost of every insert, and forgetting
    # a paper recomputes its grams instead.
    db.execute(
        "CREATE TABLE paper_grams (gram INTEGER NOT NULL, paper_id INTEGER NOT NULL,"
        " PRIMARY KEY (gram, paper_id)) WITHOUT ROWID"
    )
    if db.execute("SELECT 1 FROM papers LIMIT 1").fetchone() is None:
        return  # a new file: the matcher, with numpy, is not loaded for nothing
    from digest.identity.index import grams
    from digest.identity.keys import keys

    # Papers recorded before gain their arXiv, abstract and re-normalised title keys.
    rows = db.execute("SELECT id, title, abstract FROM papers ORDER BY id")
    while chunk := rows.fetchmany(10_000):  # however many there are, a few at a time
        papers = [(paper_id, Paper(title, abstract)) for paper_id, title, abstract in chunk]
        file_under(db, [(paper_id, keys(p), grams(p)) for paper_id, p in papers])


def _m005_outbox_compression(db: sqlite3.Connection) -> None:
    # Sent digests past DIGEST_KEEP_DAYS keep their parts packed into one compressed value,
    # the other columns emptied (see Store.prune).
    db.execute("ALTER TABLE digests ADD COLUMN packed BLOB")


def _m006_paper_counts(db: sqlite3.Connection) -> None:
    # How many papers are seen and pending, kept up to date by the one path that writes
    # papers: `digest status` reads two numbers instead of counting a million rows.
    db.execute("CREATE TABLE paper_counts (seen INTEGER PRIMARY KEY, papers INTEGER NOT NULL)")
    db.execute("INSERT INTO paper_counts VALUES (0, 0), (1, 0)")
    db.execute(
        "UPDATE paper_counts SET papers = (SELECT count(*) FROM papers p"
        " WHERE p.seen = paper_counts.seen)"
    )


def _m007_outbox_lease(db: sqlite3.Connection) -> None:
    # Until when a worker holds a pending digest for delivery (see Store.claim).
    db.execute("ALTER TABLE digests ADD COLUMN lease_until TEXT")


def _m008_readers(db: sqlite3.Connection) -> None:
    # Many readers: papers take a position in the order they were first offered (`seq`;
    # none for a backlog, which is offered to nobody) and keep what a later digest shows of
    # them (`data`); a reader is how far through those positions their digests go (`upto`);
    # a digest is for one reader and covers a range of positions. Papers recorded before
    # keep their id as position, and the one reader there was has had all of them.
    _execute_all(
        db,
        """
        ALTER TABLE papers ADD COLUMN seq INTEGER;
        ALTER TABLE papers ADD COLUMN listed TEXT;
        ALTER TABLE papers ADD COLUMN data TEXT;
        UPDATE papers SET seq = id;
        CREATE UNIQUE INDEX papers_seq ON papers (seq) WHERE seq IS NOT NULL;
        CREATE TABLE positions (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO positions SELECT 'catalogue', coalesce(max(id), 0) FROM papers;
        CREATE TABLE readers (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            upto INTEGER NOT NULL,
            added_at TEXT NOT NULL,
            token TEXT UNIQUE,
            prefs TEXT
        );
        INSERT INTO readers (key, upto, added_at)
            SELECT '', value, datetime('now') FROM positions WHERE name = 'catalogue';
        ALTER TABLE digests ADD COLUMN reader_id INTEGER REFERENCES readers (id);
        ALTER TABLE digests ADD COLUMN after_seq INTEGER;
        ALTER TABLE digests ADD COLUMN upto_seq INTEGER;
        ALTER TABLE digests ADD COLUMN period TEXT;
        UPDATE digests SET reader_id = (SELECT id FROM readers WHERE key = ''),
            after_seq = (SELECT min(id) - 1 FROM papers WHERE digest_id = digests.id),
            upto_seq = (SELECT max(id) FROM papers WHERE digest_id = digests.id);
        CREATE UNIQUE INDEX digests_period ON digests (reader_id, period) WHERE period IS NOT NULL;
        CREATE INDEX digests_reader ON digests (reader_id, id);
        CREATE TABLE likes (
            reader_id INTEGER NOT NULL REFERENCES readers (id),
            paper_id INTEGER NOT NULL,
            value INTEGER NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (reader_id, paper_id)
        )
        """,
    )


def _m009_outbox_parts(db: sqlite3.Connection) -> None:
    # A digest's renderings are kept by format name, as one JSON value, instead of a column a
    # format: a new output format needs no new column. Those not made (empty) are left out.
    if sqlite3.sqlite_version_info < (3, 35):
        raise StoreError(
            f"this state file needs SQLite 3.35 or later to be upgraded (Python's is"
            f" {sqlite3.sqlite_version}); use a Python built with a newer SQLite"
        )
    import json

    db.execute("ALTER TABLE digests ADD COLUMN parts TEXT")
    formats = ("html", "text", "markdown", "json")
    ids = [row[0] for row in db.execute("SELECT id FROM digests WHERE packed IS NULL")]
    for digest_id in ids:  # one at a time: an outbox of many readers can be large
        made = db.execute(
            f"SELECT {', '.join(formats)} FROM digests WHERE id = ?", (digest_id,)
        ).fetchone()
        parts = {fmt: text for fmt, text in zip(formats, made, strict=True) if text}
        db.execute(
            "UPDATE digests SET parts = ? WHERE id = ?",
            (json.dumps(parts, ensure_ascii=False), digest_id),
        )
    for column in formats:
        db.execute(f"ALTER TABLE digests DROP COLUMN {column}")


def _m010_letters(db: sqlite3.Connection) -> None:
    # Readers who get the same digest share one rendering (a letter, with stand-ins for what
    # is each one's own, keyed by its Message-ID stand-in); their digests keep the letter's
    # id and their own To header, token and Message-ID (`envelope`, JSON) instead of a copy.
    _execute_all(
        db,
        """
        CREATE TABLE letters (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            marks TEXT NOT NULL,
            parts TEXT,
            eml BLOB,
            packed BLOB
        );
        ALTER TABLE digests ADD COLUMN letter_id INTEGER REFERENCES letters (id);
        ALTER TABLE digests ADD COLUMN envelope TEXT;
        CREATE INDEX digests_letter ON digests (letter_id) WHERE letter_id IS NOT NULL
        """,
    )


def _m011_outbox_attempts(db: sqlite3.Connection) -> None:
    # A delivery is recorded as begun before it is made, and its outcome after: how many
    # attempts in a row ended with no outcome recorded (the process died, or the state
    # could not be written), so that such a digest is sent once more at most, never in a loop.
    db.execute("ALTER TABLE digests ADD COLUMN unrecorded INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m001_initial,
    _m002_email_delivery_note,
    _m003_service_state,
    _m004_identity_index,
    _m005_outbox_compression,
    _m006_paper_counts,
    _m007_outbox_lease,
    _m008_readers,
    _m009_outbox_parts,
    _m010_letters,
    _m011_outbox_attempts,
]


def migrate(db: sqlite3.Connection, now: str) -> None:
    """Apply the migrations this file lacks (the caller holds a write transaction)."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM migrations")}
    for migration in MIGRATIONS:
        if migration.__name__ not in done:
            migration(db)
            db.execute("INSERT INTO migrations VALUES (?, ?)", (migration.__name__, now))


def file_under(
    db: sqlite3.Connection, papers: Sequence[tuple[int, Sequence[str], Sequence[int]]]
) -> None:
    """File stored papers (by id) under their identity keys and candidate-index grams. In
    index order, the inserts walk each index once instead of all over it: on a large store
    that halves the time of a backlog."""
    import numpy as np

    db.executemany(
        "INSERT OR IGNORE INTO paper_keys VALUES (?, ?)",
        sorted((key, paper_id) for paper_id, keys, _ in papers for key in keys),
    )
    counts = [len(grams) for _, _, grams in papers]
    gram = np.fromiter(
        (g for _, _, grams in papers for g in grams), dtype=np.int64, count=sum(counts)
    )
    owner = np.repeat(np.array([paper_id for paper_id, _, _ in papers], dtype=np.int64), counts)
    order = np.lexsort((owner, gram))
    db.executemany(
        "INSERT OR IGNORE INTO paper_grams VALUES (?, ?)",
        zip(gram[order].tolist(), owner[order].tolist(), strict=True),
    )
