"""A run's renderings packed against its base rendering: back whole, whoever reads them."""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable

import pytest

from digest.state.packing import KNOWN, Dictionary, dictionary, pack, raw, unpack


def renderings(count: int) -> tuple[bytes, list[tuple[dict[str, str], bytes]]]:
    """A base of paragraphs, and renderings that show some of them in their own order."""
    rng = random.Random(3)
    words = [rng.randbytes(3).hex() for _ in range(500)]
    paragraphs = [" ".join(rng.choices(words, k=150)) + "\n" for _ in range(60)]
    base = raw({"text": "".join(paragraphs)}, None)
    made = []
    for n in range(count):
        shown = "".join(f"{i}. {p}" for i, p in enumerate(rng.sample(paragraphs, 40)))
        made.append(({"text": shown, "html": f"<p>{n}</p>{shown}"}, shown.encode()))
    return base, made


def test_renderings_packed_against_a_base_come_back_whole_and_small() -> None:
    base, made = renderings(5)
    against = Dictionary(base)
    for parts, eml in made:
        packed = against.pack(parts, eml)
        assert len(packed) * 5 < len(pack(parts, eml, 1))  # alone, each keeps its words again
        assert unpack(packed, Dictionary(base)) == (parts, eml)  # read by another process


def test_a_services_threads_read_renderings_of_one_base_at_once() -> None:
    """A service's run and its deliveries read the outbox in threads of their own, through the
    same base: each reads every rendering back whole (a compression context serves one
    thread at a time)."""
    base, made = renderings(12)
    against = Dictionary(base)
    packed = [against.pack(parts, eml) for parts, eml in made]
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(30):
                for item, wanted in zip(packed, made, strict=True):
                    assert unpack(item, against) == wanted
        except BaseException as e:  # reported by the test's own thread
            failures.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_digest_packed_alone_comes_back_with_its_parts_by_name() -> None:
    parts = {"html": "<p>é</p>" * 50, "text": "t" * 400, "markdown": "", "json": "{}"}
    for eml in (b"Subject: S\r\n\r\nbody\r\n", None):
        packed = pack(parts, eml, 1)
        assert len(packed) < len(raw(parts, eml))
        # An empty part was not made: it comes back absent, the others whole.
        assert unpack(packed) == ({k: v for k, v in parts.items() if v}, eml)
    assert raw({"text": "é"}, b"m") == b'{"text": 2, "eml": 1}\n\xc3\xa9m'


def test_a_digest_packed_before_parts_had_names_comes_back_too() -> None:
    """Then, the HTML, text, Markdown and JSON lengths as 8-byte integers, then the mail's (-1
    for none), then the parts one after another."""
    import lzma
    import struct

    texts = [b"<p>h</p>", b"t", b"m", b"{}"]
    for eml, length in ((b"mail", 4), (b"", -1)):
        data = struct.pack(">5q", *map(len, texts), length) + b"".join(texts) + eml
        expected = {"html": "<p>h</p>", "text": "t", "markdown": "m", "json": "{}"}
        assert unpack(lzma.compress(data)) == (expected, eml or None)


def test_a_rendering_packed_against_a_base_is_not_read_without_it() -> None:
    base, made = renderings(1)
    packed = Dictionary(base).pack(*made[0])
    with pytest.raises(ValueError, match="without it"):
        unpack(packed)


def test_the_bases_last_used_are_kept_and_the_oldest_read_again() -> None:
    reads: list[str] = []

    def base(key: str) -> Callable[[], bytes]:
        def read() -> bytes:
            reads.append(key)
            return key.encode() * 100

        return read

    keys = [secrets.token_hex(20) for _ in range(KNOWN + 1)]
    first = dictionary(keys[0], base(keys[0]))
    assert dictionary(keys[0], base(keys[0])) is first and reads == [keys[0]]
    for key in keys[1:]:
        dictionary(key, base(key))
    assert reads == keys  # each read once
    dictionary(keys[1], base(keys[1]))  # still kept: the first is the oldest
    assert reads == keys
    again = dictionary(keys[0], base(keys[0]))
    assert again is not first and reads == [*keys, keys[0]]
    assert again.base == first.base
