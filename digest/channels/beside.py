"""The chosen channel, and the channels beside it: the archive (DIGEST_ARCHIVE) and chat
notifications (DIGEST_NOTIFY). The digest is the chosen channel's: once it is delivered
there, each channel beside it is tried in turn and its outcome noted, and none of them can
fail the digest or hold it back."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager

from digest.channels.base import Deliverer, Followed, Retrying
from digest.channels.declare import session, stop
from digest.errors import DeliveryError, TransientDeliveryError
from digest.models import Outgoing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)


class Beside:
    """Delivers with `main`, then with each of `others`; the delivery note says what each
    did. A failure of `main` is the digest's; one of the others is noted and logged."""

    def __init__(self, main: Deliverer, others: Sequence[tuple[str, Deliverer]]) -> None:
        self.main = main
        self.others = list(others)
        self.needs = main.needs.union(*(d.needs for _, d in others))

    def session(self) -> AbstractContextManager[object]:
        """The chosen channel's session (one SMTP connection for messages that follow)."""
        return session(self.main)

    def stop(self) -> bool:
        """Stop the chosen channel's delivery (see `digest.channels.stop`)."""
        return stop(self.main)

    def deliver(self, outgoing: Outgoing) -> str:
        notes = [self.main.deliver(outgoing)]
        for name, other in self.others:
            try:
                notes.append(other.deliver(outgoing))
            except TransientDeliveryError as e:
                notes.append(f"{name} failed for now, not retried: {e}")
                log.warning("digest %s: %s", outgoing.id, notes[-1])
            except DeliveryError as e:
                notes.append(f"{name} failed: {e}")
                log.warning("digest %s: %s", outgoing.id, notes[-1])
            except Exception as e:  # the digest went: nothing here may undo that
                notes.append(f"{name} failed: unexpected error ({type(e).__name__})")
                log.warning("digest %s: %s", outgoing.id, notes[-1])
                log.debug("the error in detail", exc_info=True)
        return "; ".join(notes)

    def after_sent(self, store: StateStore, outgoing: Outgoing) -> None:
        for _, other in [("main", self.main), *self.others]:
            if isinstance(other, Followed):
                other.after_sent(store, outgoing)

    def retry_due(self, store: StateStore, now: datetime, *, every: bool = False) -> None:
        """Those that keep messages of their own for later (Retrying) send those due."""
        for _, other in [("main", self.main), *self.others]:
            if isinstance(other, Retrying):
                other.retry_due(store, now, every=every)
