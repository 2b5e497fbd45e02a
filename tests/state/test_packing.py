"""A run's renderings packed against its base rendering: back whole, whoever reads them."""

from __future__ import annotations

import random
import threading

from digest.state.packing import Dictionary, pack, raw, unpack


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
