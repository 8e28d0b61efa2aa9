"""The contract every encoder meets, so heads and methods never care which architecture they hold."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Encoded:
    """Per-token states ``[B, T, H]`` and one sentence vector ``[B, H]`` chosen by the architecture."""

    tokens: torch.Tensor
    sentence: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None
    """With ``hidden_states=True``: the embedding output and each layer's output ``[B, T, H]``."""
    attention_scores: tuple[torch.Tensor, ...] | None = None
    """With ``attention_scores=True``: each layer's pre-softmax scores ``[B, heads, T, T]`` (``finfo.min`` at padded
    keys), for TinyBERT's attention matching; only encoders with ``exposes_attention_scores`` give them."""
    branches: dict[str, Encoded] | None = None
    """Per-language branch outputs of an encoder whose branches have their own classifiers (MBLM, Fig. 4d)."""


def masked_max(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over time ignoring padding (``mask`` is 1 on real tokens)."""
    fill = torch.finfo(states.dtype).min
    return states.masked_fill(~mask.bool()[..., None], fill).max(dim=1).values


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens."""
    m = mask.to(states.dtype)[..., None]
    return (states * m).sum(1) / m.sum(1).clamp_min(1.0)
