"""A digest's renderings and mail message as the outbox keeps them: one compressed value.

    pack()      alone, LZMA: what a digest or a run's base rendering is kept as
    Dictionary  a run's base rendering, that every other rendering of the run is compressed
                against (Zstandard with it as a raw-content dictionary): a reader's rendering
                is then mostly references to what the base holds, a few kB instead of tens
    unpack()    either, back

A reader's digest repeats the run's papers in every format, as the base rendering (every new
paper, in every format) shows them: compressed against it, what is left of a reader's
rendering is their own order, numbers, highlights and counts.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    import zstandard

MAIL = "eml"  # the mail message, beside the renderings
# The renderings a digest had, in this order, before the outbox kept them by name.
_FIRST_PARTS = ("html", "text", "markdown", "json")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Zstandard's level for a rendering compressed against its run's base: 7 finds the long
# matches (a paper's whole block) at about 1 ms a reader; 9 saves a tenth more for twice that.
LEVEL = 7


def raw(parts: Mapping[str, str], eml: bytes | None) -> bytes:
    """A digest's renderings and mail message as one value, before compression. Together,
    for they repeat each other (the mail holds the HTML and text again). A line of JSON,
    each part's name and length in bytes (the mail's is "eml", absent when there is none),
    then the parts one after another."""
    data = {name: made.encode("utf-8") for name, made in parts.items()}
    if eml is not None:
        data[MAIL] = eml
    header = json.dumps({name: len(d) for name, d in data.items()}).encode("ascii")
    return header + b"\n" + b"".join(data.values())


def pack(parts: Mapping[str, str], eml: bytes | None, preset: int = 6) -> bytes:
    """A digest's renderings and mail message, LZMA-compressed: a twelfth of their size where
    zlib, part by part, keeps a third. `preset` 1, for what is packed as a run stores it:
    about 5 ms for a real day's 180 kB, into 23 kB (6: 28 ms, 20 kB)."""
    return alone(raw(parts, eml), preset)


def alone(data: bytes, preset: int = 6) -> bytes:
    """`raw` bytes compressed by themselves (LZMA), as `pack` packs them."""
    import lzma

    return lzma.compress(data, preset=preset)


class Dictionary:
    """A run's base rendering (`raw` bytes), that the run's other renderings are compressed
    against; its tables made once, when first used. A Zstandard context serves one thread at
    a time: a service's threads (its run, its deliveries) take turns."""

    def __init__(self, base: bytes) -> None:
        self.base = base
        self._compressor: zstandard.ZstdCompressor | None = None
        self._decompressor: zstandard.ZstdDecompressor | None = None
        self._turn = threading.Lock()

    def _dict(self) -> zstandard.ZstdCompressionDict:
        import zstandard

        return zstandard.ZstdCompressionDict(self.base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)

    def pack(self, parts: Mapping[str, str], eml: bytes | None) -> bytes:
        """A rendering compressed against the base."""
        data = raw(parts, eml)
        with self._turn:
            if self._compressor is None:
                import zstandard

                self._compressor = zstandard.ZstdCompressor(dict_data=self._dict(), level=LEVEL)
            return self._compressor.compress(data)

    def unpack(self, packed: bytes) -> bytes:
        """What `pack` compressed, as `raw` bytes."""
        with self._turn:
            if self._decompressor is None:
                import zstandard

                self._decompressor = zstandard.ZstdDecompressor(dict_data=self._dict())
            return self._decompressor.decompress(packed)


# The bases last used, by their key (unique to one run's base: the same in every state it is
# copied to): a run compresses each reader's rendering against the same one, and reading an
# outbox back meets the same few.
_KNOWN: OrderedDict[str, Dictionary] = OrderedDict()
KNOWN = 2  # each about 12 MB with its Zstandard contexts: a service keeps few


_KNOWING = threading.Lock()  # the bases last used are shared by a service's threads


def dictionary(key: str, base: Callable[[], bytes]) -> Dictionary:
    """The base rendering of this key: `base()` gives its raw bytes when it is not known."""
    with _KNOWING:
        found = _KNOWN.get(key)
        if found is not None:
            _KNOWN.move_to_end(key)
            return found
    made = Dictionary(base())  # read outside the lock: it may take the state's time
    with _KNOWING:
        found = _KNOWN.setdefault(key, made)
        _KNOWN.move_to_end(key)
        if len(_KNOWN) > KNOWN:
            _KNOWN.popitem(last=False)
    return found


def unpack(packed: bytes, against: Dictionary | None = None) -> tuple[dict[str, str], bytes | None]:
    """The renderings and mail message that `pack` (or a base's `Dictionary.pack`, given
    the same base) packed; or, packed before the outbox kept renderings by name: the HTML,
    text, Markdown and JSON lengths as 8-byte integers, then the mail's, -1 for none."""
    data = unraw(packed, against)
    if data.startswith(b"{"):
        header, _, data = data.partition(b"\n")
        lengths = json.loads(header)
    else:
        import struct

        found = struct.unpack_from(">5q", data)
        data = data[8 * len(found) :]
        lengths = dict(zip((*_FIRST_PARTS, MAIL), found, strict=True))
        if lengths[MAIL] < 0:
            del lengths[MAIL]
    at, parts = 0, {}
    for name, length in lengths.items():
        parts[name] = data[at : at + length]
        at += length
    eml = parts.pop(MAIL, None)
    return {name: made.decode("utf-8") for name, made in parts.items() if made}, eml


def unraw(packed: bytes, against: Dictionary | None = None) -> bytes:
    """A packed value's raw bytes (`raw`): LZMA alone, or Zstandard against its base."""
    if packed.startswith(ZSTD_MAGIC):
        if against is None:
            raise ValueError("a rendering compressed against its run's base, read without it")
        return against.unpack(packed)
    import lzma

    return lzma.decompress(packed)
