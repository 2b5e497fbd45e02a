"""StateStore: what the pipeline, the service, a backlog ingest, fetch and the CLI ask of the
state, whatever keeps it. It is every role of the state (digest.state.roles: the dumps read,
the catalogue, the readers, the outbox, the service's values), written once, and what each
backend adds: its connection, locks and the lead of `digest serve`. A caller that needs one
role takes that role's type (`Catalogue`, `Outbox`, ...)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from digest.state.catalogue import Catalogue
from digest.state.dumps import DumpsRead
from digest.state.outbox import Outbox
from digest.state.readers import Readers
from digest.state.roles import Roles, ServiceState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.base import StateUrl

__all__ = ["Catalogue", "DumpsRead", "Outbox", "Readers", "ServiceState", "StateStore"]


class StateStore(Roles):
    """The state of one installation. Use as a context manager; it closes on leaving."""

    path: Path | StateUrl  # where it lives: lock files and `digest status` name it
    # Whether several `digest serve` may share it (one leads, all deliver); when not, a
    # second one is refused.
    shared: bool

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the state (and of the lead of `digest serve`, and of any claim)."""
        raise NotImplementedError

    def reopen(self) -> None:
        """A fresh connection, after the old one failed (the state changed under it)."""
        raise NotImplementedError

    def lock(self) -> AbstractContextManager[None]:
        """Hold the run lock: one run at a time per state, across processes."""
        raise NotImplementedError

    def lead(self) -> bool:
        """Take the lead of `digest serve` if no one holds it: held until closed, and let go
        when the process dies. False when another holds it."""
        raise NotImplementedError

    def still_leading(self) -> bool:
        """Whether this store still holds the lead it took: on a shared state the lead ends
        with the connection that holds it (a server restarted, a network dropped it); the
        leader asks before it acts, and stops leading when it no longer does."""
        raise NotImplementedError

    def serving(self) -> bool:
        """Whether a `digest serve` leads on this state now."""
        raise NotImplementedError

    def bulk(self, cache_mb: int = 256) -> AbstractContextManager[None]:
        """Tune for a large write (a backlog ingest) while inside."""
        raise NotImplementedError
