"""Rows as both state backends store them, turned into values: stored papers, and the
outbox's digests (their rendered parts kept apart, or packed together once old)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping

from digest.models import Outgoing, Paper, ReaderState, SeenPaper, Shared
from digest.state.base import NO_TIME, timestamp
from digest.state.packing import Dictionary, pack, unpack

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from typing import Any


def seen_paper(
    paper_id: int, title: str, first_seen: str, first_dump: str, arxiv_ids: str | None
) -> SeenPaper:
    """A stored paper as the catalogue answers it, its arXiv ids space-separated."""
    ids = tuple(arxiv_ids.split()) if arxiv_ids else ()
    return SeenPaper(paper_id, title, timestamp(first_seen) or NO_TIME, first_dump, ids)


# A paper's fields as the catalogue keeps them for the digests that show it later (JSON).
_TUPLES = ("authors", "ai_keywords")


# What the catalogue's columns hold already: never stored twice.
_COLUMNS = ("title", "abstract", "source", "listing_date")


def paper_data(paper: Paper) -> str:
    """A paper as the catalogue keeps it: every field its columns do not hold, as compact
    JSON."""
    import json

    fields = {name: getattr(paper, name) for name in Paper.__slots__ if name not in _COLUMNS}
    return json.dumps(
        {k: v for k, v in fields.items() if v not in (None, (), "")}, ensure_ascii=False
    )


def paper_of(
    data: str | None, title: str, abstract: str, source: str, listing: str | None
) -> Paper:
    """A paper back from the catalogue: from its data, or (recorded before papers kept
    it) from the columns every paper has. The title and abstract are the columns': a
    revised abstract is kept there."""
    if not data:
        return Paper(title, abstract, source, listing)
    import json

    fields = json.loads(data)
    for name in _TUPLES:
        if name in fields:
            fields[name] = tuple(fields[name])
    fields.update(title=title, abstract=abstract)
    fields.setdefault("source", source)  # kept in the data, by states before the columns'
    fields.setdefault("listing_date", listing)
    known = set(Paper.__slots__)
    return Paper(**{k: v for k, v in fields.items() if k in known})


def reader_state(row: Mapping[str, Any]) -> ReaderState:
    """A reader as the state keeps them."""
    prefs = {}
    if row["prefs"]:  # most readers never changed theirs: no JSON to read
        import json

        prefs = json.loads(row["prefs"])
    added = timestamp(row["added_at"]) or NO_TIME
    return ReaderState(row["id"], row["key"], row["upto"], added, row["token"], prefs)


def parts_text(parts: Mapping[str, str]) -> str:
    """A digest's renderings as the outbox keeps them: JSON, by format name."""
    import json

    return json.dumps(dict(parts), ensure_ascii=False)


def contents(
    row: Mapping[str, Any], against: Dictionary | None = None
) -> tuple[dict[str, str], bytes | None]:
    """The renderings and mail message a row of the outbox keeps (a digest's or a letter's):
    packed (against its run's base, given as `against`), or as they are."""
    if row["packed"] is not None:
        return unpack(row["packed"], against)
    import json

    return json.loads(row["parts"] or "{}"), row["eml"]


def letter_row(shared: Shared, base: Dictionary | None) -> tuple[str, str, bytes]:
    """A shared rendering as the outbox keeps it: its key (its Message-ID stand-in, unique),
    its stand-ins, and its renderings and mail message packed, compressed against its run's
    `base` when it has one: stored once for every reader it is for, compressed from the
    start."""
    import json

    letter = shared.letter
    packed = base.pack(letter.parts, letter.eml) if base else pack(letter.parts, letter.eml, 1)
    return shared.marks[1], json.dumps(shared.marks), packed


def envelope_text(shared: Shared) -> str:
    """What is the reader's own in a message made from a shared rendering, as JSON."""
    import json

    to = shared.to.decode("ascii")  # an encoded, folded header: ASCII
    return json.dumps({"to": to, "token": shared.token, "ident": shared.ident})


def outbox(
    rows: Iterable[Any],
    letters: Callable[[list[int]], Iterable[Any]],
    base: Callable[[str], Dictionary],
) -> list[Outgoing]:
    """The digests of these rows of the outbox; `letters(ids)` gives the rows of the shared
    renderings they were made from, each read once however many readers it is for, and
    `base(key)` the run's base rendering a letter was compressed against."""
    rows = list(rows)
    wanted = sorted({row["letter_id"] for row in rows if row["letter_id"] is not None})
    found = {row["id"]: letter_of(row, base) for row in letters(wanted)} if wanted else {}
    return [outgoing_of(row, found.get(row["letter_id"])) for row in rows]


Rendering = tuple[dict[str, str], "bytes | None", tuple[str, str]]  # renderings, mail, stand-ins


def letter_of(row: Mapping[str, Any], base: Callable[[str], Dictionary]) -> Rendering:
    """A shared rendering as its row keeps it, read (and unpacked) once for all its readers."""
    import json

    parts, eml = contents(row, base(row["base"]) if row["base"] else None)
    token_mark, ident_mark = json.loads(row["marks"])
    return parts, eml, (token_mark, ident_mark)


# The columns that describe a digest of the outbox, without its renderings and message.
DESCRIBED = (
    "id, created_at, status, message_id, subject, paper_count, attempts, last_error, sent_at,"
    " next_attempt_at, delivery_note, reader_id, after_seq, upto_seq"
)


# What recording a delivery's outcome does to the counts of attempts: it ends the attempt
# begun (`attempt`), or, recorded without one, counts as an attempt itself.
OUTCOME = "attempts = attempts + CASE WHEN unrecorded = 0 THEN 1 ELSE 0 END, unrecorded = 0"


def described(row: Mapping[str, Any]) -> Outgoing:
    """A digest of the outbox as its row describes it, without renderings or message."""
    return Outgoing(
        id=row["id"],
        created=timestamp(row["created_at"]) or NO_TIME,
        status=row["status"],
        message_id=row["message_id"],
        subject=row["subject"],
        paper_count=row["paper_count"],
        parts={},
        attempts=row["attempts"],
        last_error=row["last_error"],
        sent_at=timestamp(row["sent_at"]),
        next_attempt=timestamp(row["next_attempt_at"]),
        delivery_note=row["delivery_note"],
        reader=row["reader_id"],
        after=row["after_seq"],
        upto=row["upto_seq"],
    )


def outgoing_of(row: Mapping[str, Any], letter: Rendering | None = None) -> Outgoing:
    """A digest of the outbox, from its row (and the row of the letter it was made from)."""
    made = described(row)
    if row["letter_id"] is None or row["packed"] is not None:
        parts, eml = contents(row)
        return dataclasses.replace(made, parts=parts, eml=eml)
    import json

    from digest.envelope import message_of

    assert letter is not None  # a digest's letter is kept as long as the digest
    parts, eml, marks = letter
    own = json.loads(row["envelope"])
    shared = Shared(
        dataclasses.replace(made, parts=parts, eml=eml),
        marks,
        own["to"].encode("ascii"),
        own["token"],
        own["ident"],
    )
    mail = message_of(shared)
    return dataclasses.replace(made, parts=mail.parts, eml=mail.eml)
