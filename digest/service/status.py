"""One service a state file: the service lock, and what `digest status` says about it.
Light on purpose: `digest status` loads this, not the scheduler."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from digest.errors import DigestError
from digest.state import lock_file, timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.protocol import StateStore


def when(moment: datetime | None) -> str:
    """A moment as status lines show it; "none" for no moment."""
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}".strip() if moment else "none"


def _service_lock_path(state: Path) -> Path:
    return lock_file(state, ".serve.lock")


@contextlib.contextmanager
def service_lock(state: Path) -> Iterator[None]:
    """Hold the service lock of a state file for as long as the service runs: a second
    `digest serve` on it is refused, and `digest status` can tell whether one is running."""
    state.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_service_lock_path(state), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DigestError(
                f"digest serve is already running with state file {state}; stop it first"
            ) from None
        yield
    finally:
        os.close(fd)  # also released by the kernel when the process dies


def service_running(state: Path) -> bool:
    """Whether a `digest serve` holds this state file's service lock."""
    try:
        fd = os.open(_service_lock_path(state), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def status_lines(store: StateStore) -> list[str]:
    """What `digest status` says about the service: running or not, next and last runs.
    Nothing when `digest serve` never ran with this state file (digest now from cron)."""
    state = store.service_state()
    if "started_at" not in state:
        return []
    started = when(timestamp(state["started_at"]))
    if service_running(store.path):
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
