"""Shared fixtures: every test runs with a clean environment and its own state folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

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
LOCATIONS = {"sqlite": lambda tmp: tmp / "state.sqlite3"}


@pytest.fixture(params=sorted(LOCATIONS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A fresh state store of each backend, through `digest.state.open`."""
    from digest import state

    with state.open(LOCATIONS[request.param](tmp_path)) as opened:
        yield opened
