"""digest: a daily digest of only the papers never shown before, from saved paper listings.

The library API: parse dumps, decide what is new, render digests, run the whole pipeline.

    >>> from digest import parse_dump, decide, render
"""

from __future__ import annotations

from digest.errors import (
    ConfigError,
    DeliveryError,
    DigestError,
    ParseError,
    StoreError,
    TransientDeliveryError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers see; at run time `__getattr__` below loads them
    from digest.formats import parse as parse_dump
    from digest.identity.decide import decide
    from digest.models import Digest, Dump, Paper, Rejected, SeenPaper, Skip
    from digest.pipeline import run_once
    from digest.settings import Settings
    from digest.state.sqlite import SqliteStore as Store

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DeliveryError",
    "Digest",
    "DigestError",
    "Dump",
    "Paper",
    "ParseError",
    "Rejected",
    "SeenPaper",
    "Settings",
    "Skip",
    "Store",
    "StoreError",
    "TransientDeliveryError",
    "__version__",
    "decide",
    "parse_dump",
    "render",
    "run_once",
]

_MODELS = ("Digest", "Dump", "Paper", "Rejected", "SeenPaper", "Skip")
# Everything but the errors loads on first use, so that `digest --version` and cron runs
# start fast.
_LAZY = {
    **{name: ("digest.models", name) for name in _MODELS},
    "parse_dump": ("digest.formats", "parse"),
    "decide": ("digest.identity.decide", "decide"),
    "render": ("digest.render", "render"),
    "run_once": ("digest.pipeline", "run_once"),
    "Settings": ("digest.config", "Settings"),
    "Store": ("digest.state.sqlite", "SqliteStore"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'digest' has no attribute {name!r}")
