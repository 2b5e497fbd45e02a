"""The state's tests, and what several of them make."""

from __future__ import annotations

from datetime import UTC, datetime

from digest.models import Outgoing


def outgoing() -> Outgoing:
    """A small digest of the outbox, pending, in every format."""
    return Outgoing(
        0,
        datetime(2025, 3, 12, tzinfo=UTC),
        "pending",
        "<m@x>",
        "S",
        1,
        {"html": "<p>h</p>", "text": "t", "markdown": "m", "json": "{}"},
    )
