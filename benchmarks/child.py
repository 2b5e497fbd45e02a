"""A measured child process: a Python program run in a process of its own, and what that
process alone cost (wall and CPU seconds, peak memory).

    python benchmarks/child.py REPORT -m digest now -q
    python benchmarks/child.py REPORT path/to/script.py [args]
    python benchmarks/child.py REPORT -c "code"

runs the module, script or code in this process, as `python ...` would with those arguments,
then writes one line of JSON to REPORT: its exit status and its peak memory.

The peak is VmHWM of /proc/self/status: the high-water mark of this process's memory since it
started its program. ru_maxrss will not do, neither the parent's RUSAGE_CHILDREN (the maximum
over every child) nor the child's own RUSAGE_SELF: Linux counts in it the memory of the
process the child was forked from, up to the exec, so a child of a benchmark holding 400 MB
reports at least 400 MB whatever it used itself.
"""

from __future__ import annotations

import json
import os
import resource
import runpy
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cost:
    """What one child process cost, and what it printed."""

    wall: float  # seconds, from its start to its end as the parent saw them
    cpu: float  # user + system seconds of the process (and of any process it waited for)
    peak_mb: float  # its own peak resident memory
    code: int
    stdout: str
    stderr: str


def peak_kb() -> int:
    """This process's own peak resident memory (KB) since its program started."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    # Not Linux: ru_maxrss, with the caveat above (KB on Linux, bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Cost:
    """Run `python ARGV...` (`-m module args`, `script args` or `-c code`) through this
    wrapper and measure it: CPU from the kernel's account of the child (os.wait4), the peak
    from the child itself."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        with out.open("wb") as o, err.open("wb") as e:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, __file__, str(report), *argv],
                stdout=o,
                stderr=e,
                env=env,
                cwd=cwd,
            )
            # Reaped here, not by subprocess, to read this child's own CPU time.
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        found = json.loads(report.read_text()) if report.exists() else {"peak_kb": 0}
        return Cost(
            wall,
            usage.ru_utime + usage.ru_stime,
            found["peak_kb"] / 1024,
            proc.returncode,
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
        )


def main() -> None:
    """Run the program given on the command line, then write its report."""
    report, *argv = sys.argv[1:]
    code: object = 0
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            sys.path[0] = os.getcwd()
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        elif argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            sys.path[0] = ""
            exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv = argv
            sys.path[0] = str(Path(argv[0]).resolve().parent)
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as stop:
        code = stop.code
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int) and code is not None:
        print(code, file=sys.stderr)
    sys.stdout.flush()
    Path(report).write_text(json.dumps({"code": status, "peak_kb": peak_kb()}))
    sys.exit(status)


if __name__ == "__main__":
    main()
