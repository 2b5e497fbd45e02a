"""Readers with the same settings get one rendering of their digest, each with only their own
address, Message-ID and unsubscribe token put in, wherever the mail's encoding cut a line."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from digest.state.protocol import StateStore
from tests.mailserver import Received, smtp_server
from tests.processes import run_digest

REAL = Path(__file__).parent / "fixtures" / "real"
DAY = ["2025-07-22.json", "2025-12-10.json", "2026-04-29.json", "2026-08-21.json"]
SETTINGS = [  # four groups of settings, two readers each
    'highlight = ["video", "diffusion"]\norder = "highlights"\nformat = "html"',
    'highlight = ["agent", "reasoning"]\norder = "upvotes"\nformat = "text"',
    'highlight = ["speech"]\norder = "listing"\nformat = "html"',
    'highlight = ["robot", "3D"]\norder = "highlights"\nformat = "text"',
]
TOKEN = re.compile(rb"/u/([0-9a-f]{32})")


def envelope_aside(message: Received) -> tuple[bytes, bytes]:
    """The message with what is the reader's own (To, Message-ID, token) set aside, soft line
    breaks undone; and the reader's token, as List-Unsubscribe gives it."""
    data = message.data
    (token,) = TOKEN.findall(data.split(b"\r\n\r\n", 1)[0])
    ident = re.search(rb"^Message-ID: <([0-9a-f]+)@", data, re.M)
    assert ident is not None
    data = re.sub(rb"^To: .*\r\n(?:[ \t].*\r\n)*", b"", data, count=1, flags=re.M)
    data = data.replace(b"=\r\n", b"").replace(token, b"TOKEN").replace(ident[1], b"IDENT")
    return data, token


@pytest.mark.slow
def test_readers_of_one_settings_group_get_one_rendering_with_their_own_token(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in DAY:
        shutil.copy(REAL / name, inbox)
    readers = [
        f'[[reader]]\nemail = "r{g}{n}@example.org"\n{s}\n'
        for g, s in enumerate(SETTINGS)
        for n in range(2)
    ]
    (tmp_path / "readers.toml").write_text("\n".join(readers))
    with smtp_server() as mail:
        env = {
            **mail.environment(),
            "DIGEST_INBOX": str(inbox),
            "DIGEST_READERS": str(tmp_path / "readers.toml"),
            "DIGEST_FROM": "Papers <papers@example.org>",
            "DIGEST_DELIVER": "smtp",
            "DIGEST_UNSUBSCRIBE": "https://papers.example.org/u/{token}",
        }
        done = run_digest(tmp_path, "now", "-q", env=env)
        assert done.returncode == 0, done.stderr
        received = {m.recipients[0]: m for m in mail.received}
        # An old digest resent, by a process that never saw its run: its rendering is read
        # back against the run's base from the state, into the very bytes that were sent.
        with contextlib.closing(sqlite3.connect(tmp_path / "s.sqlite3")) as db:
            (digest_id,) = db.execute(
                "SELECT d.id FROM digests d JOIN readers r ON r.id = d.reader_id"
                " WHERE r.key = 'r21@example.org'"
            ).fetchone()
        again = run_digest(tmp_path, "resend", str(digest_id), "-q", env=env)
        assert again.returncode == 0, again.stderr
        assert mail.received[-1].data == received["r21@example.org"].data
    assert len(received) == 8
    # The state keeps each rendering once, and of each reader only what is their own.
    with contextlib.closing(sqlite3.connect(tmp_path / "s.sqlite3")) as db:
        # A rendering a group, and the run's base that they are compressed against.
        assert db.execute("SELECT count(*) FROM letters WHERE base IS NOT NULL").fetchone() == (
            len(SETTINGS),
        )
        assert db.execute("SELECT count(*) FROM letters WHERE base IS NULL").fetchone() == (1,)
        mine = db.execute(
            "SELECT count(*), max(length(envelope)) FROM digests WHERE parts IS NULL"
            " AND eml IS NULL AND letter_id IS NOT NULL"
        ).fetchone()
        assert mine[0] == 8 and mine[1] < 300
    for group in range(len(SETTINGS)):
        (first, own), (second, other) = (
            envelope_aside(received[f"r{group}{n}@example.org"]) for n in range(2)
        )
        assert own != other
        assert first == second, f"group {group}: rendered twice, not addressed"
    for address, message in received.items():
        _, own = envelope_aside(message)
        shown = set()
        for part in message.message.walk():
            if part.get_content_maintype() == "text":
                shown.update(TOKEN.findall(part.get_payload(decode=True)))
        # Every link in the body carries the reader's own token, in the HTML and the text form.
        assert shown == {own}, address


def test_digests_hand_back_what_they_made_and_what_could_not_be_made(store: StateStore) -> None:
    """A reader whose pattern cannot be used costs only them, said as a line of the chunk; the
    first reader's digest comes with its chunk: values, for the pipeline to record."""
    from digest import letters
    from digest.config import Settings
    from digest.models import Digest, Paper
    from digest.readers import Reader, address_key

    good, bad = "ann@example.org", "bob@example.org"
    audience = [
        Reader(bad, address_key(bad), highlight="(?=lookahead)"),
        Reader(good, address_key(good), highlight="diffusion"),
    ]
    states = store.join({r.key: None for r in audience})
    fresh = [Paper("Diffusion for video", "An abstract."), Paper("Agents", "Another.")]
    base = Digest(papers=())
    settings = Settings(to=good, from_="papers@example.org")
    chunks = list(letters.digests(settings, store, audience, states, base, fresh, {"text"}))
    assert len(chunks) == 1
    (chunk,) = chunks
    (failure,) = chunk.failed
    assert failure.startswith(f"reader {bad}: highlight: ") and "they miss nothing" in failure
    assert [item.reader for item in chunk.made] == [states[address_key(good)].id]
    assert chunk.digest is not None  # the good reader's, shaped by their highlight
    assert [t.text for t in chunk.digest.highlight] == ["diffusion"]
    assert chunk.moves == []


def test_letters_import_nothing_of_the_pipeline_that_runs_them() -> None:
    """The pipeline records what letters hand back; letters never reach into its report."""
    import ast

    import digest.letters

    tree = ast.parse(Path(digest.letters.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "digest.pipeline" not in imported
