"""The channels beside the chosen one: whatever they do, the digest is the chosen channel's."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import state
from digest.archive import Archive
from digest.channels.archive import ArchiveDeliverer
from digest.channels.beside import Beside
from digest.channels.files import FilesDeliverer
from digest.errors import DeliveryError
from digest.models import Outgoing

ITEM = Outgoing(
    id=3,
    created=datetime(2026, 1, 2, tzinfo=UTC),
    status="pending",
    message_id="<m@example.org>",
    subject="Daily papers: 1 new",
    paper_count=1,
    parts={
        "html": "<html><body><p>one</p></body></html>",
        "text": "one",
        "markdown": "one",
        "json": '{"summary": "1 new paper", "papers": []}',
    },
)


class Broken:
    """A channel that fails as a library with a bug would (passed in, a true boundary)."""

    needs = frozenset({"json"})

    def __init__(self, error: Exception) -> None:
        self.error = error

    def deliver(self, outgoing: Outgoing) -> str:
        raise self.error


@pytest.mark.parametrize(
    ("error", "noted"),
    [
        (RuntimeError("bug"), "chat failed: unexpected error (RuntimeError)"),
        (DeliveryError("refused"), "chat failed: refused"),
    ],
)
def test_a_channel_beside_that_fails_leaves_the_digest_delivered(
    tmp_path: Path, error: Exception, noted: str, caplog: pytest.LogCaptureFixture
) -> None:
    site = tmp_path / "site"
    beside = Beside(
        FilesDeliverer(tmp_path / "out"),
        [("chat", Broken(error)), ("archive", ArchiveDeliverer(Archive(site)))],
    )
    with caplog.at_level(logging.WARNING):
        note = beside.deliver(ITEM)
    assert note.startswith(f"wrote {tmp_path / 'out'}")
    assert noted in note and f"archived as {site / '2026-01-02-0003.html'}" in note
    assert noted in caplog.text
    assert beside.needs >= {"html", "json", "eml"}


def test_an_archive_that_cannot_be_updated_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = state.open(tmp_path / "state.sqlite3")
    store.close()  # a state that fails as no test of ours expects
    with caplog.at_level(logging.WARNING):
        ArchiveDeliverer(Archive(tmp_path / "site")).after_sent(store, ITEM)
    assert "cannot update the archive in" in caplog.text
    assert "`digest archive` builds it again" in caplog.text
