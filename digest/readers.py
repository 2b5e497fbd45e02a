"""The readers of a digest: who gets it, each with their own interests and schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from email.headerregistry import Address

    from digest.config import Settings


@dataclass(frozen=True, slots=True)
class Reader:
    email: str
    key: str
    line: int = 0
    name: str = ""
    highlight: str | None = None
    exclude: str | None = None
    interests: str | None = None
    order: str | None = None
    max_papers: int | None = None
    schedule: str | None = None
    timezone: str | None = None
    format: str = "html"
    paused: bool = False
    since: date | None = None
    notify: tuple[str, ...] = ()

    def address(self) -> Address:
        from email.headerregistry import Address

        local, _, domain = self.email.rpartition("@")
        return Address(self.name, local, domain)


@dataclass(frozen=True, slots=True)
class Resolved:
    highlight: str
    exclude: str
    interests: str
    order: str
    max_papers: int
    schedule: str
    timezone: str | None
    format: str
    paused: bool
    min_score: float = 0.0  # DIGEST_MIN_SCORE

    def signature(self) -> tuple[object, ...]:
        return (
            self.highlight,
            self.exclude,
            self.interests,
            self.order,
            self.max_papers,
            self.format,
            self.min_score,
        )


@dataclass(frozen=True, slots=True)
class Loaded:
    readers: tuple[Reader, ...]
    errors: tuple[str, ...]


def load(path: Path) -> Loaded:
    import tomllib

    data = tomllib.loads(path.read_text())
    readers = []
    for n, t in enumerate(data.get("reader", [])):
        hl = t.get("highlight")
        if isinstance(hl, list):
            hl = ", ".join(hl)
        ex = t.get("exclude")
        if isinstance(ex, list):
            ex = ", ".join(ex)
        since = t.get("since")
        if isinstance(since, str):
            since = date.fromisoformat(since)
        readers.append(
            Reader(
                t["email"],
                t["email"].casefold(),
                n,
                t.get("name", ""),
                hl,
                ex,
                t.get("interests"),
                t.get("order"),
                t.get("max_papers"),
                t.get("schedule"),
                t.get("timezone"),
                t.get("format", "html"),
                t.get("paused", False),
                since,
            )
        )
    return Loaded(tuple(readers), ())


def default_reader(settings: Settings) -> Reader:
    return Reader(settings.to, "")


def effective(reader: Reader, settings: Settings) -> Resolved:
    def pick(value: object, default: object) -> object:
        return default if value is None else value

    return Resolved(
        highlight=pick(reader.highlight, settings.highlight),  # type: ignore[arg-type]
        exclude=pick(reader.exclude, settings.exclude),  # type: ignore[arg-type]
        interests=pick(reader.interests, settings.interests),  # type: ignore[arg-type]
        order=pick(reader.order, settings.order),  # type: ignore[arg-type]
        max_papers=pick(reader.max_papers, settings.max_papers),  # type: ignore[arg-type]
        schedule=pick(reader.schedule, settings.schedule),  # type: ignore[arg-type]
        timezone=pick(reader.timezone, settings.timezone),  # type: ignore[arg-type]
        format=reader.format,
        paused=reader.paused,
        min_score=settings.min_score,
    )
