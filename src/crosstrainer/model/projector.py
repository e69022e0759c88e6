"""f_m: the trainable projector from video-encoder features into the language model's token-embedding space."""

from __future__ import annotations

import torch
from torch import nn


class Projector(nn.Module):
    """Standardise per-second features with stored statistics, then Linear -> GELU -> Linear.

    >>> p = Projector(in_dim=8, out_dim=16)
    >>> p(torch.zeros(2, 3, 8)).shape
    torch.Size([2, 3, 16])
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden_dim = hidden_dim or out_dim
        self.in_dim, self.out_dim, self.hidden_dim = in_dim, out_dim, hidden_dim
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim))

    @torch.no_grad()
    def fit_normalization(self, features: torch.Tensor) -> None:
        """Set the input statistics from a (N, in_dim) sample of training features."""
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)
