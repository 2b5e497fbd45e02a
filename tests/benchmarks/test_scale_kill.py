"""A leader and two workers (`digest serve`) on one PostgreSQL state deliver a day to a few
hundred readers through a slow mail server that answers 451 to some messages, while a worker
and then the leader are SIGKILLed mid-delivery: every reader gets their digest, one message
(a repeat is the same stored message), with every paper of the day.
The full run: benchmarks/scale_kill.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale_kill import Services, scenario  # noqa: E402

READERS = 150


class Plan:
    """A worker killed once a quarter of the digests are sent, the leader once half are."""

    def __init__(self) -> None:
        self.done: list[str] = []

    def __call__(self, cluster: Services, sent: int) -> str | None:
        leader = cluster.leader()
        if not self.done and sent >= READERS // 4:
            worker = next(i for i in range(len(cluster.procs)) if i != leader)
            self.done.append(cluster.kill(worker))
        elif len(self.done) == 1 and sent >= READERS // 2 and leader is not None:
            self.done.append(cluster.kill(leader))
        else:
            return None
        return self.done[-1]


@pytest.mark.slow
def test_killed_workers_and_leader_lose_no_reader_and_send_no_two_digests(
    postgres: str, tmp_path: Path
) -> None:
    outcome = scenario(
        postgres,
        tmp_path,
        READERS,
        services=3,
        groups=2,
        kills=Plan(),
        delay=0.002,
        flaky=0.05,
        timeout=120,
    )
    assert outcome.kills == ["worker", "leader"]
    assert outcome.problems == []
    assert outcome.accepted == READERS + outcome.repeats and outcome.refused > 0
