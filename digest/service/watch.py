"""The inbox as the service watches it, pure bookkeeping: which files are complete."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from digest.inbox import Candidate

WRITER_CHECK_SECONDS = 0.5  # how often a file being written is looked at again


@dataclass
class Watch:
    """Which inbox files are complete. A file some process has open for writing is not,
    however long it has stayed the same (a copy can pause); one that was open at the last
    poll and is closed now is complete at once. Otherwise, where writers cannot be known
    (`writing` is None: no /proc, or the writer is another user's), a file is complete once
    two polls in a row found it with the same size and modification time. Pure bookkeeping;
    the caller scans the folder and its writers."""

    last: dict[Path, Candidate] = field(default_factory=dict)
    ready: frozenset[Candidate] = frozenset()
    writing: frozenset[Path] = frozenset()

    def update(
        self, found: Iterable[Candidate], writing: Iterable[Path] | None = None
    ) -> list[Candidate]:
        """Take one poll's findings (and the files open for writing, when known); return the
        files that became ready with it, by name."""
        current = {c.path: c for c in found}
        now_writing = frozenset(writing or ())
        ready = frozenset(
            c
            for c in current.values()
            if c.path not in now_writing
            and (self.last.get(c.path) == c or (writing is not None and c.path in self.writing))
        )
        newly = sorted(ready - self.ready, key=lambda c: c.path.name)
        # Replaced, never changed in place: the scheduled job reads `ready` from its thread.
        self.last, self.ready, self.writing = current, ready, now_writing
        return newly


def unchanged(candidate: Candidate) -> bool:
    """Whether a file is still as it was found (same size and modification time)."""
    try:
        st = candidate.path.stat()
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (candidate.size, candidate.mtime_ns)
