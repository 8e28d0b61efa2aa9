"""Task heads over any encoder: one model class for every task and architecture.

Word-level outputs are read at each word's representative sub-word (``word_index``, see
:mod:`distillx.text.align`), so a teacher and a student with different tokenizers produce one distribution per
*word* and can be compared word by word (freetransfer-x.md §2.2.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from distillx.errors import DistillxError
from distillx.models.encoder import Encoded
from distillx.models.voters import Voters, ensemble_logits


class TaskHeads(nn.Module):
    """Encoder + dropout + an intent classifier over the sentence vector and/or a slot tagger over word states.

    ``forward`` returns one flat dict whatever the encoder, so a loss never knows which model produced it:
    ``intent`` logits ``[B, C]``; ``slots`` logits ``[B, W, S]`` with ``word_mask`` ``[B, W]`` (False for padding
    and for words truncated away); with ``features=True`` also ``hidden_states`` (index 0 the embedding output,
    i the output of layer i, each ``[B, T, H]``), ``attention_mask`` and, from an encoder that
    ``exposes_attention_scores``, ``attention_scores`` (layer i's pre-softmax scores at index i - 1, each
    ``[B, heads, T, T]``), for intermediate-layer matches.
    ``language`` is the batch's language code where all its rows share one (encoders that branch by language
    read it; the others ignore it).

    ``voters`` (intermediate sizes, e.g. ``[248, 256, 264]``) replaces each head's single ``nn.Linear`` by the
    Voters Module (:class:`~distillx.models.voters.Voters`, selftraining-without-parallel.md §3.2), fed the same
    dropped-out features; then ``intent`` / ``slots`` are the voters' ensemble (log of their mean probability,
    :func:`~distillx.models.voters.ensemble_logits`) and ``intent_voters`` ``[B, M, C]`` / ``slots_voters``
    ``[B, W, M, S]`` every voter's logits, for per-voter losses and Eq. 4's vote. With ``branch_classifiers`` each
    language branch gets its own voters; a zero-shot language averages each voter's logits over the branches and
    takes the ensemble of those means. ``voters=None`` keeps one ``nn.Linear`` per head (state-dict keys
    ``intent.weight``, ``slots.bias``, ...)."""

    def __init__(
        self,
        encoder: nn.Module,
        num_intents: int = 0,
        num_slots: int = 0,
        dropout: float = 0.1,
        voters: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if not (num_intents or num_slots):
            raise ValueError("a model needs an intent head, a slot head, or both")
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.voter_sizes = None if voters is None else tuple(voters)
        # An encoder whose language branches each get their own classifiers (MBLM's multi-classifier ablation)
        # names them in ``branch_classifiers``; every other encoder shares one set of heads.
        branches = list(getattr(encoder, "branch_classifiers", ()))
        self.branch_heads = nn.ModuleDict(
            {lang: nn.ModuleDict(self._heads(num_intents, num_slots)) for lang in branches}
        )
        shared = {} if branches else self._heads(num_intents, num_slots)
        self.intent = shared.get("intent")
        self.slots = shared.get("slots")

    def _heads(self, num_intents: int, num_slots: int) -> dict[str, nn.Module]:
        sizes = {"intent": num_intents, "slots": num_slots}
        width = self.encoder.hidden_size
        if self.voter_sizes is None:
            return {name: nn.Linear(width, n) for name, n in sizes.items() if n}
        dropout = self.dropout.p
        return {name: Voters(width, n, self.voter_sizes, dropout) for name, n in sizes.items() if n}

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
            if getattr(self.encoder, "exposes_attention_scores", False):
                kwargs["attention_scores"] = True
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
            if encoded.attention_scores is not None:
                out["attention_scores"] = encoded.attention_scores
        if encoded.branches is None:
            return out | self._logits(encoded, word_index, {"intent": self.intent, "slots": self.slots})
        per_branch = {
            lang: self._logits(encoded.branches[lang], word_index, heads) for lang, heads in self.branch_heads.items()
        }
        if language in per_branch and (self.training or getattr(self.encoder, "inference", "all") == "single"):
            return out | per_branch[language]
        first = next(iter(per_branch.values()))  # a zero-shot language (or inference=all): the mean of the logits
        mean = {k: torch.stack([b[k] for b in per_branch.values()]).mean(0) for k in first if k != "word_mask"}
        for head in ("intent", "slots"):  # with voters: each voter's mean logits, and the ensemble of those
            if f"{head}_voters" in mean:
                mean[head] = ensemble_logits(mean[f"{head}_voters"])
        return out | mean | ({"word_mask": first["word_mask"]} if "word_mask" in first else {})

    def _logits(
        self, encoded: Encoded, word_index: torch.Tensor | None, heads: Mapping[str, nn.Module | None]
    ) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, layer in heads.items():
            if layer is None:
                continue
            if name == "intent":
                features = encoded.sentence
            else:
                if word_index is None:
                    raise ValueError("the slot head needs word_index (encode the words with encode_words)")
                tokens = encoded.tokens
                index = word_index.clamp_min(0)[..., None].expand(-1, -1, tokens.size(-1))
                features = tokens.gather(1, index)
            logits = layer(self.dropout(features))
            if isinstance(layer, Voters):
                out[f"{name}_voters"] = logits
                logits = ensemble_logits(logits)
            out[name] = logits
            if name == "slots":
                out["word_mask"] = word_index >= 0
        return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
