"""How a run delivers the outbox, table by table, on every backend, through a deliverer
passed in that answers as told: the attempt recorded before each delivery, the retry time
after a failure for now (doubled for each attempt made, up to the longest backoff), a
digest whose last attempts ended with no outcome recorded held rather than sent again, and
the failures after which a run tries no more. A real state file on a real, full disk for
what happens when the state cannot record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest import state
from digest.channels import EVERYTHING
from digest.config import Settings
from digest.errors import DeliveryError, DeliveryStopped, TransientDeliveryError
from digest.identity.decide import identify
from digest.models import Outgoing, Paper
from digest.pipeline import Report, failed_of, resend, send
from digest.retries import FAILURES_IN_A_ROW, IN_FLIGHT, LONGEST_BACKOFF, UNRECORDED_LIMIT
from digest.state.protocol import StateStore
from tests.test_pipeline_unrecorded import disk, filling, free

__all__ = ["disk"]  # the fixture, used by name

NOW = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SENT = "mailed to 1 recipient"
BUSY = TransientDeliveryError("421 4.7.0 try again later")
REFUSED = DeliveryError("550 5.1.1 no such user")


class Scripted:
    """A deliverer (the boundary, passed in) that answers each delivery as it is told: a
    description when delivered, or the error it raises. With `location`, it also reads what
    the state says of each digest at the moment it is delivered, on a connection of its own."""

    needs = EVERYTHING

    def __init__(self, *answers: str | Exception, location: object = None) -> None:
        self.answers = list(answers)
        self.location = location
        self.given: list[int] = []
        self.seen: list[Outgoing | None] = []

    def deliver(self, outgoing: Outgoing) -> str:
        self.given.append(outgoing.id)
        if self.location is not None:
            with state.open(self.location) as look:  # type: ignore[arg-type]
                self.seen.append(look.get(outgoing.id))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def pending(store: StateStore, n: int = 0, papers: int = 0) -> int:
    """A new pending digest showing `papers` new papers, by id."""
    listed = [
        identify(Paper(f"Paper {n}.{i}", f"abstract {n}.{i}", "d.txt")) for i in range(papers)
    ]
    item = Outgoing(0, NOW, "pending", f"<d{n}@example.org>", "S", papers, {"text": f"{n}"})
    digest_id = store.record([], [], listed, item)
    assert digest_id is not None
    return digest_id


def item(store: StateStore, digest_id: int) -> Outgoing:
    """A digest of the outbox as the state has it now."""
    found = store.get(digest_id)
    assert found is not None
    return found


# The wait before a digest refused for now is tried again: `first` (DIGEST_RETRY_SECONDS)
# doubled for each attempt made before, up to LONGEST_BACKOFF; and, while it is being
# delivered, the wait before it is tried again if no outcome follows: IN_FLIGHT at most.
BACKOFF = [
    (MINUTE, 0, MINUTE, IN_FLIGHT),
    (MINUTE, 1, 2 * MINUTE, IN_FLIGHT),
    (MINUTE, 2, 4 * MINUTE, IN_FLIGHT),
    (MINUTE, 5, 32 * MINUTE, IN_FLIGHT),
    (MINUTE, 8, 256 * MINUTE, IN_FLIGHT),
    (MINUTE, 9, LONGEST_BACKOFF, IN_FLIGHT),
    (MINUTE, 30, LONGEST_BACKOFF, IN_FLIGHT),
    (10 * MINUTE, 5, 320 * MINUTE, IN_FLIGHT),
    (10 * MINUTE, 6, LONGEST_BACKOFF, IN_FLIGHT),
    (timedelta(hours=3), 0, timedelta(hours=3), IN_FLIGHT),
    (timedelta(hours=3), 1, LONGEST_BACKOFF, IN_FLIGHT),
    (timedelta(hours=7), 0, LONGEST_BACKOFF, IN_FLIGHT),
    (timedelta(seconds=2), 0, timedelta(seconds=2), timedelta(seconds=2)),
    (timedelta(seconds=2), 1, timedelta(seconds=4), timedelta(seconds=4)),
    (timedelta(seconds=2), 2, timedelta(seconds=8), IN_FLIGHT),
]


def test_a_digest_refused_for_now_waits_its_backoff_and_its_attempt_is_recorded_first(
    store: StateStore, location: object
) -> None:
    for n, (first, before, wait, in_flight) in enumerate(BACKOFF):
        digest_id = pending(store, n)
        for _ in range(before):  # attempts made earlier, each refused for now
            store.mark_retry(digest_id, "421 earlier", NOW - MINUTE)
        deliverer = Scripted(BUSY, location=location)
        report = Report()
        send(store, deliverer, item(store, digest_id), report, NOW, first)
        row = (first, before)
        [during] = deliverer.seen  # recorded before the delivery began
        assert during is not None and during.status == "pending", row
        assert (during.attempts, during.next_attempt) == (before + 1, NOW + in_flight), row
        after = item(store, digest_id)
        assert (after.status, after.attempts, after.next_attempt, after.last_error) == (
            "pending",
            before + 1,
            NOW + wait,
            str(BUSY),
        ), row
        assert report.failed == [f"digest {digest_id} not delivered yet, will retry: {BUSY}"]
        assert (report.pending, report.failing, report.halted) == (1, 1, None), row
        store.mark_sent(digest_id)  # out of the way of the next row


STOPPED = DeliveryStopped("stopped by a signal")

# Each answer of the deliverer to a digest showing two new papers: the digest's status, its
# retry time, its last error, when it was sent and how; the papers seen; and the report's
# delivered, failed, pending, failing, halted and stopped.
OUTCOMES = [
    (SENT, ("sent", None, None, NOW, SENT), 2, ([SENT], [], 0, 0, None, False)),
    (
        BUSY,
        ("pending", NOW + MINUTE, str(BUSY), None, None),
        0,
        ([], ["digest {id} not delivered yet, will retry: " + str(BUSY)], 1, 1, None, False),
    ),
    (
        REFUSED,
        ("failed", None, str(REFUSED), None, None),
        0,
        ([], ["digest {id} failed: " + str(REFUSED)], 0, 0, None, False),
    ),
    (  # stopped (a signal): due again at once, at the next start, and nothing more now
        STOPPED,
        ("pending", NOW, str(STOPPED), None, None),
        0,
        (
            [],
            ["digest {id} not delivered yet, will retry: " + str(STOPPED)],
            1,
            1,
            "delivery was stopped",
            True,
        ),
    ),
]


def test_each_answer_of_the_deliverer_is_recorded_exactly_so(store: StateStore) -> None:
    for n, (answer, recorded, seen, told) in enumerate(OUTCOMES):
        digest_id = pending(store, n, papers=2)
        was = store.counts()["papers_seen"]
        report = Report()
        send(store, Scripted(answer), item(store, digest_id), report, NOW, MINUTE)
        after = item(store, digest_id)
        assert (
            after.status,
            after.next_attempt if after.status == "pending" else None,
            after.last_error,
            after.sent_at,
            after.delivery_note,
        ) == recorded, answer
        assert after.attempts == 1, answer
        assert store.counts()["papers_seen"] - was == seen, answer
        delivered, failed, waiting, failing, halted, stopped = told
        assert report.delivered == delivered, answer
        assert report.failed == [line.format(id=digest_id) for line in failed], answer
        assert (report.pending, report.failing, report.halted, report.stopped) == (
            waiting,
            failing,
            halted,
            stopped,
        ), answer
        if after.status == "pending":
            store.mark_failed(digest_id, "out of the way of the next row")


def held(digest_id: int, unrecorded: int) -> str:
    """What a run says, and the outbox keeps, of a digest it holds."""
    return (
        f"digest {digest_id} held, not sent again: the outcome of its last {unrecorded}"
        " deliveries could not be recorded (the process stopped, or the state could not be"
        f" written), and one may have reached its reader; see the log, then `digest resend"
        f" {digest_id}` to send it once more"
    )


# Attempts in a row that ended with no outcome recorded (the process died between its
# delivery and the record), and whether the digest is sent once more or held.
UNRECORDED = [(0, True), (1, True), (2, False), (3, False)]


def test_a_digest_whose_last_attempts_ended_unrecorded_is_sent_once_more_at_most(
    store: StateStore,
) -> None:
    assert UNRECORDED_LIMIT == 2
    for n, (unrecorded, sends) in enumerate(UNRECORDED):
        digest_id = pending(store, n, papers=1)
        for _ in range(unrecorded):
            store.attempt(digest_id, NOW - MINUTE)  # and the process died
        deliverer = Scripted(SENT)
        report = Report()
        send(store, deliverer, item(store, digest_id), report, NOW, MINUTE)
        after = item(store, digest_id)
        assert after.attempts == unrecorded + 1, unrecorded
        if sends:
            assert deliverer.given == [digest_id], unrecorded
            assert (after.status, report.delivered, report.failed) == ("sent", [SENT], [])
            continue
        assert deliverer.given == [], unrecorded
        assert (after.status, after.last_error) == ("failed", held(digest_id, unrecorded))
        assert (report.delivered, report.failed) == ([], [held(digest_id, unrecorded)])
        assert (report.pending, report.halted) == (0, None)  # the others are still sent
        assert store.counts()["papers_seen"] == n  # its paper is not seen
        # `digest resend`: pending again, and sent once, its attempts in a row afresh.
        store.requeue(digest_id)
        again = Scripted(SENT)
        send(store, again, item(store, digest_id), Report(), NOW, MINUTE)
        assert again.given == [digest_id] and item(store, digest_id).status == "sent"


T, P, S = BUSY, REFUSED, SENT

# The answers to a run's five digests in turn, and which were tried: after
# FAILURES_IN_A_ROW failures for now in a row, the run tries no more; a failure for good,
# or a delivery, ends the row. The digests not tried stay pending, counted so.
RUNS: list[tuple[tuple[str | Exception, ...], int, int, bool]] = [
    ((S, S, S, S, S), 5, 0, False),
    ((T, T, T), 3, 5, True),
    ((T, T, S, T, T), 5, 4, False),
    ((T, T, P, T, T), 5, 4, False),
    ((P, P, P, P, P), 5, 0, False),
    ((T, P, T, T, S), 5, 3, False),
    ((S, T, T, T), 4, 4, True),
    ((P, T, T, T), 4, 4, True),
    ((STOPPED,), 1, 5, True),
    ((S, STOPPED), 2, 4, True),
]


def test_a_run_tries_no_more_after_several_failures_for_now_in_a_row(store: StateStore) -> None:
    assert FAILURES_IN_A_ROW == 3
    for n, (answers, tried, waiting, halted) in enumerate(RUNS):
        ids = [pending(store, 10 * n + i) for i in range(5)]
        deliverer = Scripted(*answers)
        report = Report()
        for digest_id in ids:
            send(store, deliverer, item(store, digest_id), report, NOW, MINUTE)
        assert deliverer.given == ids[:tried], answers
        assert report.pending == waiting, answers
        assert (report.halted is not None) == halted, answers
        if halted and STOPPED not in answers:
            assert report.halted == (
                "3 deliveries in a row failed for now; the other digests of this run stay"
                " pending, tried again later"
            )
        untried = [item(store, digest_id) for digest_id in ids[tried:]]
        assert [(d.status, d.attempts) for d in untried] == [("pending", 0)] * (5 - tried)
        for digest_id in ids:
            store.mark_failed(digest_id, "out of the way of the next row")


def test_on_a_shared_state_a_digest_another_worker_holds_is_left_to_it(postgres: str) -> None:
    with state.open(postgres) as store, state.open(postgres) as other:
        digest_id = pending(store)
        assert other.claim(digest_id)
        deliverer = Scripted(SENT)
        report = Report()
        send(store, deliverer, item(store, digest_id), report, NOW, MINUTE)
        assert deliverer.given == [] and report.failed == []
        assert report.delivered == [f"digest {digest_id} is being delivered by another service"]
        assert (item(store, digest_id).status, item(store, digest_id).attempts) == ("pending", 0)
        other.close()  # the other worker stops: its claim goes with it
        send(store, deliverer, item(store, digest_id), Report(), NOW, MINUTE)
        assert deliverer.given == [digest_id] and item(store, digest_id).status == "sent"


class Filling(Scripted):
    """Delivers, and the disk fills at that very moment."""

    def __init__(self, disk: Path) -> None:
        super().__init__()
        self.fill = filling(disk)

    def deliver(self, outgoing: Outgoing) -> str:
        self.given.append(outgoing.id)
        self.fill()
        return SENT


def test_a_state_that_cannot_record_sends_nothing_more_and_a_message_twice_at_most(
    disk: Path,
) -> None:
    with state.open(disk / "state.sqlite3") as store:
        first, second = pending(store, 1, papers=1), pending(store, 2, papers=1)
        filling(disk)()  # the attempt cannot be recorded: nothing is sent
        deliverer = Scripted(SENT, SENT)
        report = Report()
        for digest_id in (first, second):
            send(store, deliverer, item(store, digest_id), report, NOW, MINUTE)
        assert deliverer.given == [] and report.pending == 1
        assert report.halted is not None and report.failed == [report.halted]
        assert report.halted.startswith(
            f"digest {first} not sent: its attempt could not be recorded (state file"
        )
        free(disk)

        # Delivered, and the disk fills before the outcome is recorded.
        fills = Filling(disk)
        report = Report()
        for digest_id in (first, second):
            send(store, fills, item(store, digest_id), report, NOW, MINUTE)
        assert fills.given == [first] and report.pending == 1
        assert report.halted is not None and report.failed == [report.halted]
        assert report.halted.startswith(f"digest {first} was delivered ({SENT}), but this")
        assert report.halted.endswith(
            f"; it is not tried again for {IN_FLIGHT.total_seconds():g} s at least, and sent"
            " once more at most"
        )
        free(disk)
        assert [d.id for d in store.outgoing(status="pending", due=NOW + IN_FLIGHT)] == [
            first,
            second,
        ]
        assert [d.id for d in store.outgoing(status="pending", due=NOW + IN_FLIGHT / 2)] == [second]

        # Once more (the disk fills again), then held: never a third time.
        later = NOW + IN_FLIGHT
        send(store, fills, item(store, first), Report(), later, MINUTE)
        free(disk)
        report = Report()
        deliverer = Scripted(SENT)
        send(store, deliverer, item(store, first), report, later + IN_FLIGHT, MINUTE)
        assert fills.given == [first, first] and deliverer.given == []
        assert report.failed == [held(first, UNRECORDED_LIMIT)]
        assert item(store, first).status == "failed"
        assert store.counts()["papers_seen"] == 0


def test_resend_delivers_a_reader_s_failed_digests_again_oldest_first(store: StateStore) -> None:
    states = store.join({"ann@example.org": None, "bob@example.org": None})
    ann, bob = states["ann@example.org"].id, states["bob@example.org"].id
    made = [
        Outgoing(0, NOW, "pending", f"<r{n}@example.org>", "S", 0, {"text": f"{n}"}, reader=r)
        for n, r in enumerate([ann, bob, ann, ann])
    ]
    ids = []
    for one in made:  # one at a time: each covers what its reader has not had yet
        (stored,) = store.enqueue([replace(one, after=0, upto=0)])
        ids.append(stored.id)
    first = Scripted(REFUSED, REFUSED, REFUSED, SENT)
    for digest_id in ids:
        send(store, first, item(store, digest_id), Report(), NOW)
    assert [d.id for d in failed_of(store, ann)] == [ids[0], ids[2]]
    assert [d.parts for d in failed_of(store, ann)] == [{"text": "0"}, {"text": "2"}]  # whole
    assert [d.id for d in failed_of(store, bob)] == [ids[1]]

    again = Scripted(SENT, BUSY)
    report = resend(Settings(), store, again, failed_of(store, ann), NOW)
    assert again.given == [ids[0], ids[2]]
    assert (report.delivered, report.pending) == ([SENT], 1)
    assert [item(store, i).status for i in ids] == ["sent", "failed", "pending", "sent"]
    assert failed_of(store, ann) == []
