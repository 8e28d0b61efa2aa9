"""A small encoder built from the mPLM: kd-limitations-zero-shot.md's LeanBERT shape (4 layers at the teacher's
width, a feed-forward of 1200/768 of it, the teacher's heads), with the mPLM's tokenizer.

Its word, position and type embeddings are copied from the mPLM when the widths agree (the default), and the
word table stays frozen, as in the paper's fine-tuning: training a fresh 250k-row table (96M of e5-small's 118M
parameters) is what a 2-core CPU cannot afford, and the copied table gives every student the same starting
point, so the comparison isolates what the transformer layers learn. The paper's Vanilla mLeanBERT is
MLM-pre-trained; here "vanilla" is the untrained layers (``init: random``) or copied mPLM layers
(``init: layers``), the starting point of pre-training distillation."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel, PretrainedConfig, PreTrainedModel
from transformers.utils import logging as hf_logging

from distillx.errors import DistillxError
from distillx.files import atomic_write_json
from distillx.models.mplm import load_tokenizer

FEED_FORWARD_RATIO = 1200 / 768
"""LeanBERT's feed-forward width over its hidden width (Table 1)."""


def lean_config(
    teacher: PretrainedConfig,
    layers: int,
    hidden_size: int | None = None,
    intermediate_size: int | None = None,
    heads: int | None = None,
) -> PretrainedConfig:
    """The teacher's config with the student's depth and widths (null: the teacher's width and heads)."""
    if layers < 1:
        raise DistillxError(f"lean.layers={layers}: a small encoder needs at least 1 layer")
    width = int(hidden_size or teacher.hidden_size)
    heads = int(heads or teacher.num_attention_heads)
    if width % heads:
        raise DistillxError(f"lean.hidden_size={width} is not a multiple of lean.heads={heads}")
    config = copy.deepcopy(teacher)
    config.num_hidden_layers = int(layers)
    config.hidden_size = width
    config.num_attention_heads = heads
    config.intermediate_size = int(intermediate_size or round(width * FEED_FORWARD_RATIO))
    return config


def _bert_like(model: PreTrainedModel, what: str) -> None:
    if not (hasattr(model, "embeddings") and hasattr(getattr(model, "encoder", None), "layer")):
        raise DistillxError(
            f"{what}: {type(model).__name__} is not a BERT / XLM-R-like encoder (embeddings + encoder.layer); "
            "the small encoder is built from those"
        )


def build_lean(
    teacher_path: str,
    layers: int,
    hidden_size: int | None = None,
    intermediate_size: int | None = None,
    heads: int | None = None,
    init: str = "random",
    init_layers: Sequence[int] | None = None,
    embeddings: str = "copy",
    seed: int = 0,
) -> PreTrainedModel:
    """The small encoder's initial weights: layers at random (``init: random``) or copied from the teacher's
    ``init_layers`` (1-based, one per student layer; null: every k-th, the uniform map), embeddings copied from
    the teacher (``embeddings: copy``) or random."""
    if init not in ("random", "layers"):
        raise DistillxError(f"lean.init={init!r}: choose random or layers")
    if embeddings not in ("copy", "random"):
        raise DistillxError(f"lean.embeddings={embeddings!r}: choose copy or random")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        teacher = AutoModel.from_pretrained(teacher_path)
    finally:
        hf_logging.set_verbosity(verbosity)
    _bert_like(teacher, "lean")
    config = lean_config(teacher.config, layers, hidden_size, intermediate_size, heads)
    torch.manual_seed(seed)
    student = AutoModel.from_config(config)
    same_width = config.hidden_size == teacher.config.hidden_size
    if embeddings == "copy":
        if not same_width:
            raise DistillxError(
                f"lean.embeddings=copy needs the mPLM's width ({teacher.config.hidden_size}), got "
                f"lean.hidden_size={config.hidden_size}; set lean.embeddings=random or lean.hidden_size=null"
            )
        student.embeddings.load_state_dict(teacher.embeddings.state_dict())
    if init == "layers":
        n_teacher = teacher.config.num_hidden_layers
        chosen = list(init_layers) if init_layers else [i * (n_teacher // layers) for i in range(1, layers + 1)]
        if len(chosen) != layers or not all(1 <= t <= n_teacher for t in chosen):
            raise DistillxError(f"lean.init_layers={chosen}: give {layers} mPLM layers, each between 1 and {n_teacher}")
        if not same_width or config.intermediate_size != teacher.config.intermediate_size:
            raise DistillxError(
                "lean.init=layers copies mPLM layers, so the small encoder needs the mPLM's widths: set "
                f"lean.hidden_size=null and lean.intermediate_size={teacher.config.intermediate_size}"
            )
        for i, t in enumerate(chosen):
            student.encoder.layer[i].load_state_dict(teacher.encoder.layer[t - 1].state_dict())
    return student


def save_encoder(
    model: PreTrainedModel, tokenizer_from: str, out: Path, info: Mapping[str, Any], info_file: str = "lean_info.json"
) -> None:
    """An ordinary Hugging Face model directory (weights, config, the mPLM's tokenizer) plus ``info_file``, so
    ``from_pretrained`` -- ``mplm=local mplm.name_or_path=DIR`` -- loads it like any mPLM (the small encoders here,
    the mPLM after bilingual task fitting)."""
    model.save_pretrained(out)
    load_tokenizer(tokenizer_from).save_pretrained(out)
    atomic_write_json(dict(info), out / info_file)


def complete(directory: Path, info_file: str = "lean_info.json") -> bool:
    """Whether :func:`save_encoder` finished writing ``directory``."""
    return (directory / "config.json").exists() and (directory / info_file).exists()
