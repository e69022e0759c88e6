"""Text helpers shared by discovery, evaluation and feedback: sentence embeddings with the bundled MiniLM."""

from crosstrainer.text.embeddings import cosine_matrix, embed, embedding_dim, get_model

__all__ = ["cosine_matrix", "embed", "embedding_dim", "get_model"]
