"""Rows as both state backends store them, turned into values: stored papers, and the
outbox's digests (their rendered parts kept apart, or packed together once old)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from digest.models import Outgoing, Paper, ReaderState, SeenPaper
from digest.state import NO_TIME, timestamp

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from typing import Any

PARTS = ("html", "text", "markdown", "json")  # a digest's rendered forms, kept as text


def seen_paper(
    paper_id: int, title: str, first_seen: str, first_dump: str, arxiv_ids: str | None
) -> SeenPaper:
    """A stored paper as the catalogue answers it, its arXiv ids space-separated."""
    ids = tuple(arxiv_ids.split()) if arxiv_ids else ()
    return SeenPaper(paper_id, title, timestamp(first_seen) or NO_TIME, first_dump, ids)


# A paper's fields as the catalogue keeps them for the digests that show it later (JSON).
_TUPLES = ("authors", "ai_keywords")


def paper_data(paper: Paper) -> str:
    """A paper as the catalogue keeps it: every field, as compact JSON."""
    import json

    fields = {name: getattr(paper, name) for name in Paper.__slots__}
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


def pack(parts: Sequence[str], eml: bytes | None) -> bytes:
    """A digest's rendered parts and mail message as one LZMA-compressed value. Together, for
    they repeat each other (the mail holds the HTML and text again): a twelfth of their size
    where zlib, part by part, keeps a third."""
    import lzma
    import struct

    data = [p.encode("utf-8") for p in parts] + [eml or b""]
    lengths = [len(d) for d in data[:-1]] + [-1 if eml is None else len(eml)]
    return lzma.compress(struct.pack(f">{len(data)}q", *lengths) + b"".join(data))


def unpack(packed: bytes) -> tuple[list[str], bytes | None]:
    """The parts and mail message that `pack` packed."""
    import lzma
    import struct

    data = lzma.decompress(packed)
    count = len(PARTS) + 1
    lengths = struct.unpack_from(f">{count}q", data)
    at, found = 8 * count, []
    for length in lengths:
        found.append(data[at : at + max(length, 0)])
        at += max(length, 0)
    eml = None if lengths[-1] < 0 else found[-1]
    return [f.decode("utf-8") for f in found[:-1]], eml


def outgoing_of(row: Mapping[str, Any]) -> Outgoing:
    """A digest of the outbox, from its row."""
    parts = {p: row[p] for p in PARTS}
    eml = row["eml"]
    if row["packed"] is not None:
        texts, eml = unpack(row["packed"])
        parts = dict(zip(PARTS, texts, strict=True))
    return Outgoing(
        id=row["id"],
        created=timestamp(row["created_at"]) or NO_TIME,
        status=row["status"],
        message_id=row["message_id"],
        subject=row["subject"],
        paper_count=row["paper_count"],
        eml=eml,
        **parts,
        attempts=row["attempts"],
        last_error=row["last_error"],
        sent_at=timestamp(row["sent_at"]),
        next_attempt=timestamp(row["next_attempt_at"]),
        delivery_note=row["delivery_note"],
        reader=row["reader_id"],
        after=row["after_seq"],
        upto=row["upto_seq"],
    )
