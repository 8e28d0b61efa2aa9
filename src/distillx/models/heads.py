"""Task heads over any encoder: one model class per task, whatever the architecture underneath."""

from __future__ import annotations

import torch
from torch import nn


class SentenceClassifier(nn.Module):
    """Encoder + dropout + linear layer over the encoder's sentence vector; returns logits ``[B, C]``."""

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        encoded = self.encoder(input_ids, attention_mask)
        return self.classifier(self.dropout(encoded.sentence))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
