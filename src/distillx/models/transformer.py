"""Transformer encoder student/teacher (freetransfer-x.md §3.3.1: BERT-style, absolute positions,
first-token representation for sentence classification)."""

from __future__ import annotations

import torch
from torch import nn

from distillx.models.embedding import TokenEmbedding
from distillx.models.encoder import Encoded


class TransformerEncoder(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 4,
        num_heads: int = 4,
        ffn_size: int = 768,
        dropout: float = 0.1,
        max_positions: int = 256,
    ) -> None:
        super().__init__()
        self.max_positions = max_positions
        self.embed = TokenEmbedding(vocab_size, embed_dim, dropout, max_positions=max_positions)
        self.project = nn.Linear(embed_dim, hidden_size) if embed_dim != hidden_size else nn.Identity()
        layer = nn.TransformerEncoderLayer(
            hidden_size, num_heads, ffn_size, dropout, activation="gelu", batch_first=True
        )
        self.layers = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.hidden_size = hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, hidden_states: bool = False) -> Encoded:
        x = self.project(self.embed(input_ids[:, : self.max_positions]))
        pad = ~attention_mask[:, : self.max_positions].bool()
        if not hidden_states:
            states = self.layers(x, src_key_padding_mask=pad)
            return Encoded(tokens=states, sentence=states[:, 0])
        collected = [x]
        for layer in self.layers.layers:  # the same computation as self.layers(...), keeping each layer's output
            collected.append(layer(collected[-1], src_key_padding_mask=pad))
        states = collected[-1]
        return Encoded(tokens=states, sentence=states[:, 0], hidden_states=tuple(collected))
