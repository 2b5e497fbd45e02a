"""A throwaway PostgreSQL server on loopback, for the tests and the benchmarks: `initdb` into a
folder, `pg_ctl start` on a free port with its socket in that folder, stopped at the end; one
of a test's own can be restarted and stopped (`server`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

POSTGRES_BIN = [Path(p).parent for p in (shutil.which("initdb"),) if p] + sorted(
    Path("/usr/lib/postgresql").glob("*/bin"), reverse=True
)


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *argv]
    import shlex

    return ["su", "postgres", "-c", shlex.join(argv)]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running throwaway server: its URL, and pg_ctl to restart, stop and start it for real."""

    url: str
    bin_dir: Path
    folder: Path
    options: str

    def ctl(self, *args: str) -> None:
        """Run pg_ctl on this server's data folder (waiting for it to finish)."""
        subprocess.run(
            _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"),
                          "-l", str(self.folder / "log"), "-o", self.options, "-w", *args]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def restart(self) -> None:
        """Restart at once, the way a crash does: every connection ends, no clean shutdown."""
        self.ctl("-m", "immediate", "restart")

    def stop(self) -> None:
        """Stop at once: every connection ends, and new ones are refused until `start`."""
        self.ctl("-m", "immediate", "stop")

    def start(self) -> None:
        """Start it again, on the same port."""
        self.ctl("start")


@contextmanager
def throwaway(folder: Path) -> Iterator[str | None]:
    """A new server with its data in `folder`: the URL of its `postgres` database (None when
    PostgreSQL is not installed). Durability is off (fsync, full page writes): a test server."""
    with server(folder) as running:
        yield running.url if running else None


@contextmanager
def server(folder: Path) -> Iterator[Server | None]:
    """A new server with its data in `folder`, as `throwaway`, that can be restarted and
    stopped (None when PostgreSQL is not installed)."""
    found = [b for b in POSTGRES_BIN if (b / "initdb").exists() and (b / "pg_ctl").exists()]
    if not found:
        yield None
        return
    bin_dir = found[0]
    data, port = folder / "data", _free_port()
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        for p in (folder, *folder.parents):
            if p == Path(tempfile.gettempdir()):
                break
            os.chmod(p, os.stat(p).st_mode | 0o011)  # the server may pass through
        os.chown(folder, user.pw_uid, user.pw_gid)
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                      "--no-sync", "-E", "UTF8", "--locale", "C"]),
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    running = Server(f"postgresql://postgres@127.0.0.1:{port}/postgres", bin_dir, folder, options)
    running.start()
    try:
        yield running
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
