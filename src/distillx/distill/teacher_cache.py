"""Frozen-teacher outputs, computed once per stage and input set, and stored beside the stage.

A frozen teacher gives the same outputs for the same input every epoch, so recomputing them each epoch is
wasted work (for an mPLM teacher it is most of the work)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch

from distillx.context import RunContext, TaskModel
from distillx.data.schema import Example
from distillx.train.batching import Target
from distillx.train.checkpoint import atomic_torch_save

log = logging.getLogger(__name__)


def _fingerprint(ctx: RunContext, teacher: TaskModel, examples: list[Example]) -> str:
    digest = hashlib.sha256(f"{teacher.role}:{teacher.arch}:{','.join(ctx.heads)}".encode())
    for ex in examples:
        digest.update(f"{ex.id}\t{' '.join(ex.words)}\n".encode())
    return digest.hexdigest()


def teacher_outputs(ctx: RunContext, teacher: TaskModel, examples: list[Example], path: Path) -> dict[str, Target]:
    """KD targets for ``examples``: the teacher's float32 ``intent`` logits and/or per-word ``slots`` logits with
    ``word_mask`` (the words the teacher saw), loaded from ``path`` when it holds them for the same inputs."""
    key = _fingerprint(ctx, teacher, examples)
    if path.exists():
        cached = torch.load(path, weights_only=True)
        if cached.get("key") == key:
            return cached["targets"]
        log.warning("%s was computed for other inputs; recomputing", path)
    targets = ctx.trainer.predict(teacher.model, ctx.encode(teacher, examples), desc=f"{teacher.role} outputs")
    atomic_torch_save({"key": key, "targets": targets}, path)
    return targets
