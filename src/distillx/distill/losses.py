"""Training objectives. Every KD loss works from log-probabilities in float32, so it stays finite for
large logits under bf16/fp16 autocast (softmax-then-log underflows to log 0)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def kd_kl_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL(P_T || P_S) of temperature-softened distributions over the last dimension (freetransfer-x Eq. 1),
    averaged over the rows selected by ``mask`` (all rows when None) and scaled by T^2 (Hinton et al.) so
    gradient magnitudes do not depend on the temperature."""
    log_p_s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_p_t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    per_row = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1)
    if mask is not None:
        per_row = per_row[mask.bool()]
    return per_row.mean() * temperature**2


class KDLoss(nn.Module):
    """Sentence-level KD: the targets are the frozen teacher's logits for the same utterance."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"KD temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        return kd_kl_divergence(student_logits, teacher_logits, self.temperature)


class GoldLoss(nn.Module):
    """Cross-entropy on gold label ids: only for training the simulated off-the-shelf source model and the
    ``gold_supervised`` reference, never inside a label-free method."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels)
