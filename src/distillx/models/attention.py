"""An attention implementation that returns the raw attention scores, for TinyBERT's attention matching
(kd-limitations-zero-shot Eq. 3 on "self-attention scores").

Transformers' attention functions return the post-softmax probabilities as ``outputs.attentions``; TinyBERT
matches the pre-softmax scores (their softmax hides differences the student should learn). ``distillx_scores``
computes exactly BERT's eager attention but returns ``Q K^T * scaling + mask`` instead, so padded keys hold
``finfo.min``. It is registered at import time (this module is imported by :mod:`distillx.models.mplm`), so any
process that loads a model can resolve the name."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AttentionInterface, AttentionMaskInterface, PreTrainedModel
from transformers.masking_utils import eager_mask

SCORES = "distillx_scores"


def scores_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's ``eager_attention_forward``, returning ``(output, pre-softmax scores [B, heads, query, key])``."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = nn.functional.dropout(nn.functional.softmax(scores, dim=-1), p=dropout, training=module.training)
    output = torch.matmul(probs, value).transpose(1, 2).contiguous()
    return output, scores


AttentionInterface.register(SCORES, scores_attention_forward)
AttentionMaskInterface.register(SCORES, eager_mask)  # the additive float mask eager attention reads


def record_attention_scores(model: PreTrainedModel) -> None:
    """Switch ``model`` to :data:`SCORES`, so ``output_attentions=True`` returns raw scores; a no-op when it
    already uses it. The outputs are unchanged: only what is returned as ``attentions`` differs."""
    if model.config._attn_implementation != SCORES:
        model.set_attn_implementation(SCORES)
