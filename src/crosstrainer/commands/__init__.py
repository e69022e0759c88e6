"""The ``crosstrainer`` verbs, one module each with a ``register(app)`` (see ``crosstrainer.cli``)."""

from __future__ import annotations


def use_threads(n: int | None) -> None:
    """Set torch's CPU thread count for this process (the one place that does; library code never does)."""
    if n:
        import torch

        torch.set_num_threads(int(n))
