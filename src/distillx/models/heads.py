"""Task heads over any encoder: one model class for every task and architecture.

Word-level outputs are read at each word's representative sub-word (``word_index``, see
:mod:`distillx.text.align`), so a teacher and a student with different tokenizers produce one distribution per
*word* and can be compared word by word (freetransfer-x.md §2.2.2)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from distillx.errors import DistillxError


class TaskHeads(nn.Module):
    """Encoder + dropout + an intent classifier over the sentence vector and/or a slot tagger over word states.

    ``forward`` returns one flat dict whatever the encoder, so a loss never knows which model produced it:
    ``intent`` logits ``[B, C]``; ``slots`` logits ``[B, W, S]`` with ``word_mask`` ``[B, W]`` (False for padding
    and for words truncated away); with ``features=True`` also ``hidden_states`` (index 0 the embedding output,
    i the output of layer i, each ``[B, T, H]``) and ``attention_mask``, for intermediate-layer matches.
    ``language`` is the batch's language code where all its rows share one (encoders that branch by language
    read it; the others ignore it)."""

    def __init__(self, encoder: nn.Module, num_intents: int = 0, num_slots: int = 0, dropout: float = 0.1) -> None:
        super().__init__()
        if not (num_intents or num_slots):
            raise ValueError("a model needs an intent head, a slot head, or both")
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.intent = nn.Linear(encoder.hidden_size, num_intents) if num_intents else None
        self.slots = nn.Linear(encoder.hidden_size, num_slots) if num_slots else None

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        word_index: torch.Tensor | None = None,
        language: str | None = None,
        features: bool = False,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"language": language} if getattr(self.encoder, "by_language", False) else {}
        if features:
            kwargs["hidden_states"] = True
        encoded = self.encoder(input_ids, attention_mask, **kwargs)
        out: dict[str, Any] = {}
        if features:
            if encoded.hidden_states is None:
                raise DistillxError(
                    f"{type(self.encoder).__name__} does not expose its hidden states: an objective with "
                    "intermediate-layer matches needs a teacher and a student that do"
                )
            out["hidden_states"] = encoded.hidden_states
            out["attention_mask"] = attention_mask
        if self.intent is not None:
            out["intent"] = self.intent(self.dropout(encoded.sentence))
        if self.slots is not None:
            if word_index is None:
                raise ValueError("the slot head needs word_index (encode the words with encode_words)")
            tokens = encoded.tokens
            index = word_index.clamp_min(0)[..., None].expand(-1, -1, tokens.size(-1))
            out["slots"] = self.slots(self.dropout(tokens.gather(1, index)))
            out["word_mask"] = word_index >= 0
        return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
