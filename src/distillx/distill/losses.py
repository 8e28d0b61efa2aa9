"""Training objectives. Every KD loss works from log-probabilities in float32, so it stays finite for
large logits under bf16/fp16 autocast (softmax-then-log underflows to log 0)."""

from __future__ import annotations

from collections.abc import Mapping

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
    if mask is None:
        return per_row.mean() * temperature**2
    mask = mask.bool()
    return per_row[mask].sum() / mask.sum().clamp_min(1) * temperature**2  # 0, not NaN, when nothing is selected


class KDLoss(nn.Module):
    """KD on every head the teacher has outputs for: the intent distribution of the utterance (sentence level)
    and the slot distribution of each word at its first sub-word (word level, freetransfer-x.md §2.2.2).

    A word counts only where both models saw it (neither truncated it away); the heads' losses are summed."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"KD temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
        loss = torch.zeros((), device=next(iter(outputs.values())).device)
        if "intent" in targets:
            loss = loss + kd_kl_divergence(outputs["intent"], targets["intent"], self.temperature)
        if "slots" in targets:
            mask = outputs["word_mask"] & targets["word_mask"]
            loss = loss + kd_kl_divergence(outputs["slots"], targets["slots"], self.temperature, mask)
        return loss


class GoldLoss(nn.Module):
    """Cross-entropy on gold label ids (intent ``[B]``, slot tags ``[B, W]`` with -100 where there is no tag):
    only for training the simulated off-the-shelf source model and the ``gold_supervised`` reference, never
    inside a label-free method."""

    def forward(self, outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
        loss = torch.zeros((), device=next(iter(outputs.values())).device)
        if "intent" in targets:
            loss = loss + F.cross_entropy(outputs["intent"].float(), targets["intent"])
        if "slots" in targets:
            tags = targets["slots"].masked_fill(~outputs["word_mask"], -100)
            if (tags >= 0).any():
                loss = loss + F.cross_entropy(outputs["slots"].float().flatten(0, 1), tags.flatten())
        return loss
