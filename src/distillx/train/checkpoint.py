"""Checkpoints of trainable weights: frozen parameters left out and fingerprinted, checked on load (written
atomically through :mod:`distillx.files`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from distillx.errors import DistillxError


def _checksum(tensor: torch.Tensor) -> float:
    """Float64 sum in 1M-element chunks: stable across thread counts, no full-size temporary."""
    return sum(chunk.sum(dtype=torch.float64).item() for chunk in tensor.detach().reshape(-1).split(1 << 20))


def frozen_fingerprint(model: torch.nn.Module) -> dict[str, list]:
    """Shape and checksum of every frozen parameter, which checkpoints leave out."""
    return {n: [list(p.shape), _checksum(p)] for n, p in model.named_parameters() if not p.requires_grad}


def weights_state(model: torch.nn.Module, fingerprint: dict[str, list]) -> dict[str, Any]:
    """What a checkpoint stores of ``model``: its state without the frozen parameters (they never change in a
    stage, and an mPLM's frozen 250k-row word embedding is most of its size, so leaving it out makes saving and
    reloading cheap and keeps a copy of it out of memory), with ``fingerprint`` so a load can check them."""
    weights = {k: v for k, v in model.state_dict().items() if k not in fingerprint}
    return {"weights": weights, "frozen": fingerprint}


def load_weights(model: torch.nn.Module, path: Path, map_location: Any = None) -> None:
    """Load the checkpoint file at ``path`` into ``model`` (see :func:`restore_weights`)."""
    restore_weights(model, torch.load(path, map_location=map_location, weights_only=True), path)


def restore_weights(model: torch.nn.Module, saved: dict[str, Any], path: Path) -> None:
    """Put ``saved`` (from :func:`weights_state`, or a plain full state dict) into ``model``; the frozen
    parameters it left out must be in ``model`` unchanged, else a one-line error naming ``path`` says so."""
    if set(saved) != {"weights", "frozen"}:
        model.load_state_dict(saved)
        return
    params = dict(model.named_parameters())
    for name, (shape, checksum) in saved["frozen"].items():
        p = params.get(name)
        if p is None or list(p.shape) != shape or not math.isclose(_checksum(p), checksum, rel_tol=1e-9, abs_tol=1e-6):
            raise DistillxError(
                f"{path}: frozen parameter {name!r} is not what this checkpoint was trained with (the base model "
                "changed since); use the model the stage was trained from, or delete the stage directory to retrain"
            )
    try:
        result = model.load_state_dict(saved["weights"], strict=False)
    except RuntimeError as err:  # shapes differ: another architecture or label set
        first = str(err).strip().splitlines()[-1].strip()
        raise DistillxError(
            f"{path}: checkpoint does not fit the model ({first}); delete the stage directory to retrain"
        ) from err
    missing = sorted(set(result.missing_keys) - set(saved["frozen"]))
    if result.unexpected_keys or missing:
        raise DistillxError(
            f"{path}: checkpoint does not fit the model (missing {missing[:3]}, unexpected "
            f"{result.unexpected_keys[:3]}); delete the stage directory to retrain"
        )
