"""Where each reader is after each run, on every backend, through the real pipeline and a
deliverer passed in that answers each reader as told: a reader's digest owns the papers it
shows from when it is stored, delivered or not, and they count as seen only once it is
delivered; each reader's digests cover their papers end to end, none twice, none skipped."""

from __future__ import annotations

import email
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from digest import state
from digest.channels import EVERYTHING
from digest.config import Settings
from digest.errors import DeliveryError, TransientDeliveryError
from digest.models import Outgoing
from digest.pipeline import Report, run_once
from digest.state.protocol import StateStore

NOW = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)


def listing(day: str, *titles: str) -> bytes:
    """A day's listing as saved from the Daily Papers page, with these papers (each its
    own abstract, in its own words)."""
    papers = "".join(
        f"{title}\n\nOn {title.lower()}: {title.lower()} again.\n\n" for title in titles
    )
    return f"Daily Papers\n\n{day}\n\n{papers}".encode()


DAY_ONE = listing("Mar 9", "Sparse Attention for Long Video", "Robots That Fold Laundry", "Tokens")
# Day two lists one of day one's papers again: it is not new, and takes no position.
DAY_TWO = listing("Mar 10", "Robots That Fold Laundry", "Agents That Plan", "Quantized Diffusion")
BUSY = TransientDeliveryError("421 4.7.0 try again later")
REFUSED = DeliveryError("550 5.1.1 no such user")


class ByReader:
    """A deliverer (the boundary, passed in) that answers each reader's message as told for
    their address (delivered when not told), and keeps the readers it delivered to."""

    needs = EVERYTHING

    def __init__(self, answers: Mapping[str, Exception] | None = None) -> None:
        self.answers = dict(answers or {})
        self.delivered: list[tuple[str, int]] = []

    def deliver(self, outgoing: Outgoing) -> str:
        assert outgoing.eml is not None
        to = email.message_from_bytes(outgoing.eml)["To"]
        address = to.strip("<>").rpartition("<")[2].rstrip(">")
        if address in self.answers:
            raise self.answers[address]
        self.delivered.append((address, outgoing.id))
        return f"mailed to {address}"


READERS = """
[[reader]]
email = "ann@example.org"

[[reader]]
email = "bob@example.org"

[[reader]]
email = "dee@example.org"
paused = true

[[reader]]
email = "eve@example.org"
"""
CY = """
[[reader]]
email = "cy@example.org"
exclude = "."
"""


def where(store: StateStore) -> dict[str, int]:
    """Each reader's position, by address."""
    return {r.key: r.upto for r in store.all_readers() if r.key}


def digests(store: StateStore) -> dict[str, list[tuple[int, int, str, int]]]:
    """Each reader's digests, by address: the positions each covers, its status and how
    many papers it shows."""
    keys = {r.id: r.key for r in store.all_readers()}
    found: dict[str, list[tuple[int, int, str, int]]] = {}
    for status in ("pending", "sent", "failed"):
        for d in store.outgoing(status=status, bare=True):
            assert d.after is not None and d.upto is not None
            found.setdefault(keys[d.reader or 0], []).append(
                (d.after, d.upto, d.status, d.paper_count)
            )
    return {key: sorted(made) for key, made in found.items()}


def unusable(report: Report) -> list[str]:
    """The readers a run made nothing for, their own settings being unusable, as it says."""
    tail = "; nothing is made for them until it is fixed, and they miss nothing"
    return [line.partition(": ")[0] for line in report.failed if line.endswith(tail)]


def run(settings: Settings, deliverer: ByReader) -> Report:
    with state.open(settings.state) as store:
        return run_once(settings, store, deliverer, NOW)


def test_each_reader_is_moved_on_by_their_digest_delivered_or_not_and_misses_nothing(
    tmp_path: Path, location: object
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    readers = tmp_path / "readers.toml"
    readers.write_text(READERS)
    place = state.location(str(location))
    settings = Settings(inbox=inbox, state=place, readers=readers)
    with state.open(place) as store:  # eve's own settings cannot be used, for now
        eve = store.join({"eve@example.org": None})["eve@example.org"]
        store.set_prefs(eve.id, {"highlight": "(unclosed"})

    # Day one: ann's server refuses for now, bob's for good.
    (inbox / "day-one.txt").write_bytes(DAY_ONE)
    first = run(settings, ByReader({"ann@example.org": BUSY, "bob@example.org": REFUSED}))
    assert first.pending == 1 and len(first.failed) == 3
    assert unusable(first) == ["reader eve@example.org"]
    with state.open(place) as store:
        one = store.end()
        assert one == 3
        assert where(store) == {  # dee is paused, eve's settings are wrong: they stay
            "ann@example.org": one,
            "bob@example.org": one,
            "dee@example.org": 0,
            "eve@example.org": 0,
        }
        assert digests(store) == {
            "ann@example.org": [(0, one, "pending", one)],
            "bob@example.org": [(0, one, "failed", one)],
        }
        # Nobody's digest was delivered: no paper is seen yet.
        assert store.counts() == {"papers_seen": 0, "papers_pending": one, "dumps": 1}

    # Day two: every server takes it. Ann's digest of day one goes first, then day two's;
    # cy joins, and excludes everything: moved on without a digest.
    readers.write_text(READERS + CY)
    (inbox / "day-two.txt").write_bytes(DAY_TWO)
    day_two = ByReader()
    second = run(settings, day_two)
    assert unusable(second) == ["reader eve@example.org"] and len(second.failed) == 1
    with state.open(place) as store:
        two = store.end()
        assert two == 5
        assert where(store) == {
            "ann@example.org": two,
            "bob@example.org": two,
            "cy@example.org": two,
            "dee@example.org": 0,
            "eve@example.org": 0,
        }
        assert digests(store) == {
            "ann@example.org": [(0, one, "sent", one), (one, two, "sent", two - one)],
            "bob@example.org": [(0, one, "failed", one), (one, two, "sent", two - one)],
        }
        assert store.counts() == {"papers_seen": two, "papers_pending": 0, "dumps": 2}
        [ann_first] = [d.id for d in store.outgoing(status="sent") if d.after == 0]
    assert day_two.delivered[0] == ("ann@example.org", ann_first)
    assert sorted(address for address, _ in day_two.delivered) == [
        "ann@example.org",
        "ann@example.org",
        "bob@example.org",
    ]

    # Bob's digest of day one is sent again (`digest resend`); dee is back and eve's
    # settings are fixed: each gets both days in one digest; nothing new for the others:
    # nothing is sent to them.
    readers.write_text(READERS.replace("paused = true", "") + CY)
    with state.open(place) as store:
        [bobs] = store.outgoing(status="failed")
        store.requeue(bobs.id)
        store.set_prefs(eve.id, {"highlight": "agents"})
    third = ByReader()
    assert run(settings, third).ok
    assert [address for address, _ in sorted(third.delivered)] == [
        "bob@example.org",
        "dee@example.org",
        "eve@example.org",
    ]
    assert sorted(third.delivered)[0] == ("bob@example.org", bobs.id)
    with state.open(place) as store:
        assert where(store) == dict.fromkeys(
            [f"{name}@example.org" for name in ("ann", "bob", "cy", "dee", "eve")], two
        )
        made = digests(store)
        assert made["bob@example.org"] == [(0, one, "sent", one), (one, two, "sent", two - one)]
        assert made["dee@example.org"] == made["eve@example.org"] == [(0, two, "sent", two)]
    nothing = ByReader()
    assert run(settings, nothing).ok and nothing.delivered == []
