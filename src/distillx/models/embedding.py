"""Token embeddings shared by the small from-scratch encoders."""

from __future__ import annotations

import torch
from torch import nn


class TokenEmbedding(nn.Module):
    """Sub-word embedding with optional learned absolute positions (BERT-style), then dropout."""

    def __init__(self, vocab_size: int, embed_dim: int, dropout: float, max_positions: int = 0) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.positions = nn.Embedding(max_positions, embed_dim) if max_positions else None
        self.norm = nn.LayerNorm(embed_dim) if max_positions else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(input_ids)
        if self.positions is not None:
            pos = torch.arange(input_ids.size(1), device=input_ids.device)
            x = x + self.positions(pos)[None]
        return self.dropout(self.norm(x))
