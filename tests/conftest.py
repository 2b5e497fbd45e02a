"""Shared fixtures: every test runs with a clean environment and its own state folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: a few dozen examples by default, so the quick suite stays quick; CI runs
# them thoroughly (HYPOTHESIS_PROFILE=thorough in .ci/run). No deadline: a shared machine's
# pauses are not failures. `mutation` is benchmarks/mutation.py's, which runs the tests once
# a mutant: a few examples, the same every run, so two runs compare.
settings.register_profile(
    "fast", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", settings.get_profile("fast"), max_examples=300)
settings.register_profile(
    "mutation", settings.get_profile("fast"), max_examples=10, derandomize=True, database=None
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No DIGEST_* variable leaks in, no .env is picked up, state and data go to tmp_path."""
    for name in list(os.environ):
        if name.startswith("DIGEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """An empty inbox folder."""
    path = tmp_path / "inbox"
    path.mkdir()
    return path


@pytest.fixture
def seeds() -> list[Path]:
    """The five bundled sample dumps, in name order."""
    return sorted(SEEDS.glob("*.txt"))


def copy_seeds(inbox: Path, *names: Path) -> None:
    """Drop the given seed files into the inbox."""
    for path in names:
        shutil.copy(path, inbox / path.name)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite the golden files under tests/golden from the current output",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> object:
    """Compare text with tests/golden/NAME, or rewrite it with --update-goldens."""
    update = request.config.getoption("--update-goldens")

    def check(name: str, text: str) -> None:
        path = ROOT / "tests" / "golden" / name
        if update:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"no golden file {path}; run pytest --update-goldens"
        assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"

    return check


# Where each state backend keeps a fresh store inside a test's folder: a backend added to
# digest.state.BACKENDS needs its entry here (test_state checks), and every test taking the
# `store` fixture then runs against it too.
LOCATIONS = {
    "sqlite": lambda request: request.getfixturevalue("tmp_path") / "state.sqlite3",
    "postgresql": lambda request: request.getfixturevalue("postgres"),
}


@pytest.fixture(params=sorted(LOCATIONS))
def location(request: pytest.FixtureRequest) -> object:
    """Where a fresh state of each backend lives: a path, or a fresh database's URL."""
    return LOCATIONS[request.param](request)


@pytest.fixture
def store(location: object) -> Iterator[object]:
    """A fresh state store of each backend, through `digest.state.open`."""
    from digest import state

    with state.open(location) as opened:  # type: ignore[arg-type]
        yield opened


# -- a real PostgreSQL server, for the PostgreSQL backend ---------------------------------------

GIVEN_POSTGRES = os.environ.get("DIGEST_TEST_POSTGRES")  # read before any test clears DIGEST_*


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A PostgreSQL server's URL (to its `postgres` database): DIGEST_TEST_POSTGRES when set,
    else a throwaway server of our own when PostgreSQL is installed, else None."""
    from tests.pgserver import throwaway

    if given := GIVEN_POSTGRES:
        yield given
        return
    import tempfile

    # Not under pytest's own temporary folder: every pytest run that starts on this machine
    # makes that folder private again, and the server (run as its own user) would lose it.
    folder = Path(tempfile.mkdtemp(prefix="digest-postgres-"))
    try:
        with throwaway(folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres(request: pytest.FixtureRequest, postgres_server: str | None) -> Iterator[str]:
    """The URL of a fresh, empty database on the test server, dropped afterwards."""
    if postgres_server is None:
        pytest.skip(
            "no PostgreSQL: set DIGEST_TEST_POSTGRES to a server's URL, or install PostgreSQL"
            " (initdb and pg_ctl on PATH or under /usr/lib/postgresql/*/bin)"
        )
    import re

    import psycopg

    name = "t_" + re.sub(r"\W", "_", request.node.name)[:40].lower() + f"_{os.getpid()}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def own_postgres() -> Iterator[object]:
    """A PostgreSQL server of the test's own (`pgserver.Server`), which it may restart and stop
    for real; skipped when PostgreSQL is not installed here."""
    import tempfile

    from tests.pgserver import server

    folder = Path(tempfile.mkdtemp(prefix="digest-postgres-"))
    try:
        with server(folder) as running:
            if running is None:
                pytest.skip("no PostgreSQL installed (initdb and pg_ctl) to restart and stop")
            yield running
    finally:
        shutil.rmtree(folder, ignore_errors=True)
