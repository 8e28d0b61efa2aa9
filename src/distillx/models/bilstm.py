"""BiLSTM encoder (freetransfer-x.md §3.3.1): two stacked bidirectional layers; the sentence vector is
the final state of each direction, i.e. the representation after reading the last word."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from distillx.models.embedding import TokenEmbedding
from distillx.models.encoder import Encoded


class BiLSTMEncoder(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 256,
        hidden_size: int = 512,
        num_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if hidden_size % 2:
            raise ValueError(f"BiLSTM hidden_size must be even (two directions), got {hidden_size}")
        self.embed = TokenEmbedding(vocab_size, embed_dim, dropout)
        self.lstm = nn.LSTM(
            embed_dim,
            hidden_size // 2,
            num_layers=num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.hidden_size = hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Encoded:
        x = self.embed(input_ids)
        lengths = attention_mask.sum(1).clamp_min(1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        tokens, _ = pad_packed_sequence(out, batch_first=True, total_length=input_ids.size(1))
        sentence = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        return Encoded(tokens=tokens, sentence=sentence)
