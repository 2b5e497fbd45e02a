"""Sentence embeddings from WordLlama, whose weights (16 MB) ship inside its package: it is
the optional extra `digest[relevance]`. Loaded from the package's own files, never from the
network (WordLlama.load() would try to download its tokenizer, which fails offline)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def available() -> bool:
    """Whether the embedding model is installed."""
    from importlib.util import find_spec

    return find_spec("wordllama") is not None


@cache
def _model() -> Any:
    from pathlib import Path

    import wordllama
    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    root = Path(wordllama.__file__).parent
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np") as f:
        weights = f.get_tensor("embedding.weight")
    return WordLlamaInference(weights, tokenizer)


_known: dict[str, NDArray[np.float32]] = {}  # each paper embedded once, whatever the readers
_KNOWN_MAX = 20_000


def forget() -> None:
    """Forget the texts embedded so far (the model stays loaded)."""
    _known.clear()


def embed(texts: Sequence[str]) -> NDArray[np.float32]:
    """One unit vector (256 numbers) a text."""
    import numpy as np

    new = list(dict.fromkeys(t for t in texts if t not in _known))
    if new:  # in batches of 16: 64 at once peak at 100 MB, 16 at 27 MB, as fast
        if len(_known) + len(new) > _KNOWN_MAX:
            _known.clear()
        _known.update(zip(new, _model().embed(new, norm=True, batch_size=16), strict=True))
    if not texts:
        return np.zeros((0, 256), dtype=np.float32)
    return np.stack([_known[t] for t in texts])
