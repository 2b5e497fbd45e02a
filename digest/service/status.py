"""What `digest status` says about the service (whether one leads is the store's to tell:
`StateStore.lead` and `serving`). Light on purpose: `digest status` loads this, not the
scheduler."""

from __future__ import annotations

from datetime import datetime

from digest.state import timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.protocol import StateStore


def when(moment: datetime | None) -> str:
    """A moment as status lines show it; "none" for no moment."""
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}".strip() if moment else "none"


def status_lines(store: StateStore) -> list[str]:
    """What `digest status` says about the service: running or not, next and last runs.
    Nothing when `digest serve` never ran with this state file (digest now from cron)."""
    state = store.service_state()
    if "started_at" not in state:
        return []
    started = when(timestamp(state["started_at"]))
    if store.serving():
        lines = [
            f"service: running (pid {state.get('pid', '?')}) since {started},"
            f" schedule {state.get('schedule', '?')}",
            f"next scheduled run: {when(timestamp(state.get('next_run')))}",
        ]
    else:
        how = (
            f"stopped at {when(timestamp(state['stopped_at']))}"
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
        f"last scheduled run: {when(last)}: {state.get('last_result', '')}"
        if last
        else "last scheduled run: none yet"
    )
    lines.append(f"last successful run: {when(timestamp(state.get('last_success')))}")
    return lines
