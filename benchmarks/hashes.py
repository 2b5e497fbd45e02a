"""How many times each dump's content is hashed (sha256): by `digest now` on the bundled
seeds, and by the service (two polls that find the files complete, then a scheduled run).

    python benchmarks/hashes.py

Run it with another checkout's code on PYTHONPATH to compare: it counts calls in-process.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
calls = 0
_sha256 = hashlib.sha256


def counted(data: bytes = b"", **kw: bool) -> object:
    global calls
    calls += 1
    return _sha256(data, **kw)


class Kept:
    """A channel that keeps nothing: the count is about reading dumps, not delivering."""

    needs: frozenset[str] = frozenset()

    def deliver(self, item: object) -> str:
        return "kept"


def main() -> None:
    global calls
    hashlib.sha256 = counted  # type: ignore[assignment]
    from digest.cli import main as cli
    from digest.config import Settings

    try:
        from digest.service.schedule import parse_schedule
        from digest.service.service import Service
    except ImportError:  # a checkout with the service in one module
        from digest.service import Service, parse_schedule  # type: ignore[no-redef]
    try:
        from digest.state import open as open_state
    except ImportError:  # a checkout with the store in one module
        from digest.store import Store  # type: ignore[import-not-found]

        open_state = Store.open

    seeds = sorted((ROOT / "seeds").iterdir())
    work = Path(tempfile.mkdtemp(prefix="digest-hashes-"))
    try:
        inbox = work / "inbox"
        shutil.copytree(ROOT / "seeds", inbox)
        calls = 0
        cli(
            [
                "now",
                "--inbox",
                str(inbox),
                "--state",
                str(work / "now.db"),
                "--out",
                str(work / "out"),
                "-q",
            ]
        )
        print(f"digest now: {calls / len(seeds):.1f} hashes a dump ({len(seeds)} dumps)")

        settings = Settings(inbox=inbox, state=work / "serve.db", out=work / "out2")
        trigger = parse_schedule("@daily", UTC)
        service = Service(settings, Kept(), trigger, UTC)
        calls = 0
        with open_state(settings.state) as store:
            service.poll(store)
            service.poll(store)
        service.run_scheduled()
        print(f"digest serve: {calls / len(seeds):.1f} hashes a dump (poll, poll, run)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
