"""Send again, on one SMTP connection, the messages a mail server captured: the cost of moving
those bytes and nothing else.

    python benchmarks/resend.py CAPTURE --port 25 [--host 127.0.0.1]

CAPTURE holds the messages as `frame` writes them: a line of JSON (sender, recipients, length)
and then the message's bytes.
"""

from __future__ import annotations

import argparse
import json
import smtplib
from collections.abc import Iterator
from pathlib import Path


def frame(sender: str, recipients: list[str], data: bytes) -> bytes:
    """One captured message, as CAPTURE holds it."""
    return json.dumps([sender, recipients, len(data)]).encode() + b"\n" + data


def frames(path: Path) -> Iterator[tuple[str, list[str], bytes]]:
    """The captured messages, one at a time (a day for many readers is large)."""
    with path.open("rb") as f:
        while line := f.readline():
            sender, recipients, length = json.loads(line)
            yield sender, recipients, f.read(length)


def main() -> None:
    """Resend every captured message as it was, on one connection."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25)
    args = parser.parse_args()
    with smtplib.SMTP(args.host, args.port) as smtp:
        for sender, recipients, data in frames(args.capture):
            smtp.sendmail(sender, recipients, data)


if __name__ == "__main__":
    main()
