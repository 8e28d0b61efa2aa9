"""CNN encoder (Kim 2014; freetransfer-x.md §3.3.1): parallel 1-D kernels of sizes 3, 4 and 5 whose
channels are concatenated, stacked ``num_layers`` deep; max-over-time pooling gives the sentence vector.
``dilation_base > 1`` gives the dilated variant (Strubell et al. 2017) used for sequence tagging."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from distillx.models.embedding import TokenEmbedding
from distillx.models.encoder import Encoded, masked_max


class SameConv1d(nn.Conv1d):
    """Conv1d whose output keeps the input length for even kernels too (explicit asymmetric padding)."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_dim, out_dim, kernel_size, dilation=dilation)
        total = (kernel_size - 1) * dilation
        self.pad = (total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pad))


class CNNEncoder(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 256,
        hidden_size: int = 768,
        num_layers: int = 2,
        kernel_sizes: Sequence[int] = (3, 4, 5),
        dilation_base: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        kernel_sizes = tuple(kernel_sizes)
        if hidden_size % len(kernel_sizes):
            raise ValueError(
                f"CNN hidden_size ({hidden_size}) must be divisible by the number of kernels ({len(kernel_sizes)})"
            )
        channels = hidden_size // len(kernel_sizes)
        self.embed = TokenEmbedding(vocab_size, embed_dim, dropout)
        self.layers = nn.ModuleList()
        in_dim = embed_dim
        for depth in range(num_layers):
            dilation = dilation_base**depth
            self.layers.append(nn.ModuleList(SameConv1d(in_dim, channels, k, dilation=dilation) for k in kernel_sizes))
            in_dim = hidden_size
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.hidden_size = hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Encoded:
        mask = attention_mask[:, None, :].to(self.embed.tokens.weight.dtype)
        x = self.embed(input_ids).transpose(1, 2)  # [B, E, T]
        for convs in self.layers:
            x = x * mask  # padding must not leak into neighbouring positions
            x = self.dropout(self.act(torch.cat([conv(x) for conv in convs], dim=1)))
        tokens = x.transpose(1, 2)
        return Encoded(tokens=tokens, sentence=masked_max(tokens, attention_mask))
