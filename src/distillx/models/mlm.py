"""Masked language modelling on any Hugging Face encoder, for continued pre-training (bilingual task fitting,
selftraining-without-parallel.md §3.1) and the demo mPLM's own pre-training.

A checkpoint saved as an encoder only (the offline e5-small is an ``XLMRobertaModel``) has no trained MLM head:
``AutoModelForMaskedLM`` then builds one whose decoder is tied to the input embeddings and whose transform is
new; :class:`MaskedLM` reports which case it is in (``head_trained``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn
from transformers import AutoModelForMaskedLM, PreTrainedModel
from transformers.utils import logging as hf_logging

from distillx.errors import DistillxError

log = logging.getLogger(__name__)

IGNORE = -100


def mlm_head(model: PreTrainedModel) -> nn.Module:
    """The head mapping hidden states to vocabulary logits (BERT's ``cls``, RoBERTa's ``lm_head``)."""
    for name in ("lm_head", "cls"):
        if hasattr(model, name):
            return getattr(model, name)
    raise DistillxError(f"{type(model).__name__}: no MLM head (lm_head or cls) found; BTF needs a masked-LM model")


def masked_lm_loss(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """MLM cross-entropy computed on the masked positions only: the vocabulary projection of the other 85%
    of the tokens is most of the compute (250k words for XLM-R's vocabulary) and contributes nothing."""
    labels = batch.pop("labels")
    states = model.base_model(**batch).last_hidden_state
    picked = labels != IGNORE
    logits = mlm_head(model)(states[picked])
    return torch.nn.functional.cross_entropy(logits.float(), labels[picked])


def mask_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    probability: float,
    mask_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption: ``probability`` of the real, non-special tokens are chosen (at least one per batch);
    80% of them become the mask token, 10% a random word, 10% stay. Returns (inputs, labels: -100 elsewhere)."""
    device = input_ids.device
    candidates = attention_mask.bool() & ~torch.isin(input_ids, torch.tensor(list(special_ids), device=device))
    draw = torch.rand(input_ids.shape, generator=generator, device="cpu").to(device)
    chosen = candidates & (draw < probability)
    if not chosen.any() and candidates.any():  # a short batch: mask one token rather than learn nothing
        first = candidates.flatten().nonzero()[0]
        chosen.view(-1)[first] = True
    labels = input_ids.masked_fill(~chosen, IGNORE)
    action = torch.rand(input_ids.shape, generator=generator, device="cpu").to(device)
    inputs = input_ids.masked_fill(chosen & (action < 0.8), mask_id)
    random_words = torch.randint(vocab_size, input_ids.shape, generator=generator, device="cpu").to(device)
    swap = chosen & (action >= 0.8) & (action < 0.9)
    return torch.where(swap, random_words, inputs), labels


class MaskedLM(nn.Module):
    """An encoder with its MLM head, answering the training loop with ``{"mlm_loss": ...}``: tokens are masked
    inside ``forward`` (from the global RNG in training, so a resumed run replays its checkpointed RNG; from a
    generator seeded by the batch in evaluation, so every epoch is scored on the same masks).

    ``frozen_layers`` bottom transformer layers and (``freeze_embeddings``) the embeddings get no gradient
    (Wu and Dredze, 2019, as the paper does)."""

    def __init__(
        self,
        name_or_path: str,
        *,
        special_ids: Sequence[int],
        mask_id: int,
        probability: float = 0.15,
        frozen_layers: int = 3,
        freeze_embeddings: bool = True,
    ) -> None:
        super().__init__()
        if not 0 < probability < 1:
            raise DistillxError(f"mlm_probability={probability}: must be in (0, 1), e.g. 0.15")
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            self.model, info = AutoModelForMaskedLM.from_pretrained(name_or_path, output_loading_info=True)
        except (OSError, ValueError) as err:
            raise DistillxError(f"{name_or_path}: cannot load it as a masked LM ({err})"[:300]) from err
        finally:
            hf_logging.set_verbosity(verbosity)
        head_prefixes = ("lm_head", "cls")
        self.new_head_weights = sorted(k for k in info["missing_keys"] if k.startswith(head_prefixes))
        layers = self._layers()
        if not 0 <= frozen_layers <= len(layers):
            raise DistillxError(f"frozen_layers={frozen_layers}: the encoder has {len(layers)} layers")
        if freeze_embeddings:
            self.model.base_model.embeddings.requires_grad_(False)
        for layer in layers[:frozen_layers]:
            layer.requires_grad_(False)
        self.special_ids = list(special_ids)
        self.mask_id = mask_id
        self.probability = probability
        self.vocab_size = int(self.model.config.vocab_size)

    @property
    def head_trained(self) -> bool:
        """Whether the checkpoint carried a trained MLM head (False: a new one, decoder tied to the embeddings)."""
        return not self.new_head_weights

    def _layers(self) -> nn.ModuleList:
        encoder = getattr(self.model.base_model, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if layers is None:
            raise DistillxError(f"{type(self.model).__name__}: no encoder.layer list to freeze the bottom layers of")
        return layers

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: object) -> dict[str, torch.Tensor]:
        generator = None
        if not self.training:
            generator = torch.Generator().manual_seed(int(input_ids.sum().item()) % (2**31))
        inputs, labels = mask_tokens(
            input_ids,
            attention_mask,
            probability=self.probability,
            mask_id=self.mask_id,
            vocab_size=self.vocab_size,
            special_ids=self.special_ids,
            generator=generator,
        )
        loss = masked_lm_loss(self.model, {"input_ids": inputs, "attention_mask": attention_mask, "labels": labels})
        return {"mlm_loss": loss}


def mlm_objective(outputs: dict[str, torch.Tensor], targets: object, model: nn.Module | None = None) -> torch.Tensor:
    """The training loop's objective for :class:`MaskedLM`: its loss as computed."""
    return outputs["mlm_loss"]
