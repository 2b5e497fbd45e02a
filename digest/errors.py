"""Errors that digest raises for expected failures.

Every one carries a message a user can act on; only the CLI turns them into exit codes.

    DigestError
    ├── ConfigError      a setting is missing or malformed
    ├── ParseError       a dump cannot be read (names the file, and the line when known)
    ├── StoreError       the state database cannot be opened or is not ours
    ├── FetchError       the day's listing could not be downloaded, or is not a listing
    └── DeliveryError    the digest could not be delivered
        └── TransientDeliveryError   worth retrying later (server down, timeout, 4xx)
            └── DeliveryStopped      delivery was stopped (SIGTERM) before it was done
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: an expected failure with a one-line, actionable message."""


class ConfigError(DigestError):
    """A setting is missing or malformed."""


class ParseError(DigestError):
    """A dump cannot be read; names the file and, when known, the line."""

    def __init__(self, file: str, why: str, line: int | None = None) -> None:
        self.file = file
        self.why = why
        self.line = line
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {why}")


class StoreError(DigestError):
    """The state database cannot be opened, or is not a digest state file."""


class FetchError(DigestError):
    """The day's listing could not be downloaded, or the answer is not a usable listing."""


class WorkerDied(DigestError):
    """A worker process of a backlog ingest ended unexpectedly (killed, out of memory)."""


class DeliveryError(DigestError):
    """The digest could not be delivered; it is kept and can be sent again."""


class TransientDeliveryError(DeliveryError):
    """Delivery failed in a way worth retrying later (server down, timeout, 4xx reply)."""


class DeliveryStopped(TransientDeliveryError):
    """Delivery was stopped (SIGTERM, Ctrl-C) before the digest was delivered: it stays
    pending, and nothing more is tried in this run."""
