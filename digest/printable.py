"""Outside text made safe to print: file names, server replies, anything not written by digest.

A terminal obeys escape codes, a log line ends at a newline, and a file name that is not valid
UTF-8 reaches Python as lone surrogates that cannot be encoded at all. `printable` shows each
such character as a visible escape (`\\x1b`, `\\n`, `\\xe9` for the undecodable byte 0xE9), so
the text stays readable and one line, and says what was there.
"""

from __future__ import annotations

import re

# Control characters (C0, DEL, C1), line and paragraph separators, bidi overrides and
# isolates (which reorder what follows them on screen), the BOM, and surrogates.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)


def _escape(m: re.Match[str]) -> str:
    code = ord(m[0])
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control, bidi and undecodable character shown as an escape."""
    return _UNPRINTABLE.sub(_escape, text)
