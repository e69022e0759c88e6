"""The shared MiniLM text-embedding helper (real bundled model, offline)."""

import numpy as np

from crosstrainer.text import cosine_matrix, embed, embedding_dim, get_model


def test_embed_shape_norm_and_meaning():
    v = embed(["keep your knees together", "legs apart on the entry", "the stock market fell today"])
    assert v.shape == (3, embedding_dim()) == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]  # two body-position phrases are closer than an unrelated one
    assert embed([]).shape == (0, 384)
    assert get_model() is get_model()  # loaded once
    assert np.allclose(cosine_matrix(v * 3, v), v @ v.T, atol=1e-5)
