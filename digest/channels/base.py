"""The Deliverer protocol: what every channel's deliverer is, checked at run time too. What
a deliverer may need (MAIL, ALL_FORMATS) is named beside the registry, in digest.channels:
a run that only builds its deliverer does not load typing for the protocol."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from digest.models import Outgoing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

    from digest.state.protocol import StateStore


@runtime_checkable
class Deliverer(Protocol):
    """Something that delivers a rendered digest.

    `needs` names what it takes from the digest: formats (digest.outputs) and "eml" for the
    mail message. Only those are made, and kept in the outbox for its retries."""

    needs: frozenset[str]

    def deliver(self, outgoing: Outgoing) -> str:
        """Deliver it; return a one-line description; raise DeliveryError on failure."""
        ...


@runtime_checkable
class Followed(Protocol):
    """A deliverer with more to do once its digest is recorded as delivered: the archive's
    index and feed are built from the state, which then holds the digest as sent."""

    def after_sent(self, store: StateStore, outgoing: Outgoing) -> None:
        """Do it; a failure here is logged, never the digest's."""
        ...


@runtime_checkable
class Retrying(Protocol):
    """A deliverer that keeps messages of its own in the state until they are taken (each
    reader's chat messages): runs and the service's looks ask it to send those due."""

    def retry_due(self, store: StateStore, now: datetime, *, every: bool = False) -> None:
        """Send those due at `now` (with `every`, each one not taken yet); a failure to send
        one is recorded and logged, a state that cannot record raises StoreError."""
        ...
