"""What `digest status` says about the service (whether one leads is the store's to tell:
`StateStore.lead` and `serving`). Light on purpose: `digest status` loads this, not the
scheduler."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from digest.state import timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.protocol import StateStore


def when(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """A moment as status lines show it, in `zone` when given (the service's time zone);
    "none" for no moment."""
    if moment is None:
        return "none"
    return f"{moment.astimezone(zone) if zone else moment:%Y-%m-%d %H:%M:%S %Z}".strip()


def status_lines(store: StateStore, zone: tzinfo | None = None) -> list[str]:
    """What `digest status` says about the service: running or not, next and last runs, in
    `zone` (the service's time zone). Nothing when `digest serve` never ran with this state
    file (digest now from cron)."""
    state = store.service_state()
    if "started_at" not in state:
        return []
    started = when(timestamp(state["started_at"]), zone)
    if store.serving():
        lines = [
            f"service: running (pid {state.get('pid', '?')}) since {started},"
            f" schedule {state.get('schedule', '?')}",
            f"next scheduled run: {when(timestamp(state.get('next_run')), zone)}",
        ]
    else:
        how = (
            f"stopped at {when(timestamp(state['stopped_at']), zone)}"
            if state.get("stopped_at")
            else f"started {started}, ended without a clean stop"
        )
        lines = [
            f"service: not running ({how})",
            "next scheduled run: none until digest serve starts again"
            " (a missed run is made up once on start)",
        ]
    last = timestamp(state.get("last_run"))
    lines.append(
        f"last scheduled run: {when(last, zone)}: {state.get('last_result', '')}"
        if last
        else "last scheduled run: none yet"
    )
    lines.append(f"last successful run: {when(timestamp(state.get('last_success')), zone)}")
    return lines


class Stamped(logging.Formatter):
    """The service's log lines, each stamped with its time in the service's time zone."""

    def __init__(self, zone: tzinfo) -> None:
        super().__init__("%(asctime)s digest: %(message)s")
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, self.zone).strftime("%Y-%m-%d %H:%M:%S%z")
