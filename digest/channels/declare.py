"""What a channel is (`Channel`, what a deliverer may need) and what is done with any deliverer
(`session`, `stop`): what every channel module and the registry in digest.channels share."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from digest.outputs import FORMATS

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from digest.channels.base import Deliverer
    from digest.settings import Settings

# What a deliverer may need (its `needs`): the formats, and the mail message.
MAIL = "eml"  # beside the format names: the mail message, as a deliverer's need
ALL_FORMATS = frozenset(FORMATS)  # the outbox keeps these, as text
EVERYTHING = ALL_FORMATS | {MAIL}


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel: the settings it reads (Settings fields), how its deliverer is built
    (with the addresses of `digest resend --to`, for those that mail), and its description
    for the service's start-up line. A channel that `previews_itself` delivers as usual in a
    dry run (printing to standard output records nothing anyway). `check` refuses its
    settings when they cannot be used, with one line naming the setting (ConfigError)."""

    name: str
    settings: tuple[str, ...]
    build: Callable[[Settings, Sequence[str]], Deliverer]
    describe: Callable[[Settings], str]
    previews_itself: bool = False
    check: Callable[[Settings], None] | None = None


def session(deliverer: Deliverer) -> AbstractContextManager[object]:
    """Where messages follow each other: a deliverer that can (SMTP) keeps its connection
    for all of them; any other delivers as it always does."""
    made: AbstractContextManager[object] = getattr(deliverer, "session", nullcontext)()
    return made


def stop(deliverer: Deliverer) -> bool:
    """Stop delivering, from a signal handler: a deliverer that can (SMTP) ends the exchange
    in progress at once and starts no other (DeliveryStopped). False when it cannot: what
    it does is local and quick, and it finishes."""
    halt = getattr(deliverer, "stop", None)
    return bool(halt()) if halt is not None else False
