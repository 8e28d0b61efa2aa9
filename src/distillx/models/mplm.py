"""A multilingual pre-trained encoder behind the same contract as the small encoders.

Any Hugging Face ``AutoModel`` works: a hub name (``xlm-roberta-base``) where the hub is reachable, or a
local directory (the offline e5-small build, the demo mPLM distillx pre-trains itself)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from distillx.errors import DistillxError
from distillx.models.attention import record_attention_scores
from distillx.models.encoder import Encoded, masked_mean


def _load_failure(name_or_path: str, err: Exception) -> DistillxError:
    where = "local directory" if Path(name_or_path).exists() else "name (not a local directory)"
    return DistillxError(
        f"mplm.name_or_path={name_or_path!r}: cannot load this {where} ({type(err).__name__}: "
        f"{str(err).splitlines()[0][:160]}); point mplm.name_or_path at a Hugging Face model directory, e.g. "
        "one built by ../shared/tools/offline-mplm.sh, or use mplm=demo"
    )


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """The mPLM's own tokenizer (fast, so ``word_ids()`` is available for word alignment)."""
    try:
        return AutoTokenizer.from_pretrained(name_or_path, use_fast=True)
    except (OSError, ValueError) as err:
        raise _load_failure(name_or_path, err) from err


class PretrainedEncoder(nn.Module):
    """``AutoModel`` wrapped to return token states and a pooled sentence vector.

    ``random_init`` keeps the architecture and tokenizer but discards the pre-trained weights: the control
    that shows how much of a transfer comes from pre-training. ``freeze_embeddings`` keeps the word
    embedding table fixed, which preserves the cross-lingual alignment of words unseen in KD step 1 and
    saves most of the optimizer work (most of an mPLM's parameters are its embedding table).

    ``attention_scores=True`` switches the model, for good, to the attention implementation that returns raw
    scores (:mod:`distillx.models.attention`): same outputs, but eager attention instead of SDPA, so an encoder
    never asked for scores keeps the faster default.
    """

    exposes_attention_scores = True

    def __init__(
        self,
        name_or_path: str,
        pooling: str = "first",
        random_init: bool = False,
        freeze_embeddings: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if pooling not in ("first", "mean"):
            raise DistillxError(f"mplm.pooling={pooling!r}: choose 'first' or 'mean'")
        # The load report lists the checkpoint's MLM head and the unused pooler: neither matters to an encoder.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            if random_init:
                torch.manual_seed(seed)
                self.model = AutoModel.from_config(AutoConfig.from_pretrained(name_or_path))
            else:
                self.model = AutoModel.from_pretrained(name_or_path)
        except (OSError, ValueError) as err:
            raise _load_failure(name_or_path, err) from err
        finally:
            hf_logging.set_verbosity(verbosity)
        if freeze_embeddings:
            self.model.get_input_embeddings().weight.requires_grad_(False)
        self.pooling = pooling
        self.hidden_size = int(self.model.config.hidden_size)
        self.max_positions = int(getattr(self.model.config, "max_position_embeddings", 512))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        hidden_states: bool = False,
        attention_scores: bool = False,
    ) -> Encoded:
        options = {"output_hidden_states": hidden_states}
        if attention_scores:
            record_attention_scores(self.model)
            options["output_attentions"] = True
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **options)
        states = out.last_hidden_state
        sentence = states[:, 0] if self.pooling == "first" else masked_mean(states, attention_mask)
        return Encoded(
            tokens=states,
            sentence=sentence,
            hidden_states=out.hidden_states if hidden_states else None,
            attention_scores=out.attentions if attention_scores else None,
        )
