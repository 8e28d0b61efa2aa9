"""The small encoder a run asks for with ``base: lean`` (``student=lean``): built from the mPLM and, unless the
``lean`` config says ``distil: false`` (vanilla), distilled from it during pre-training (kd-limitations-zero-shot.md
§3.2, "1st stage"): on the unlabeled train text of the dataset's languages, sampled with alpha = 0.5 (Eq. 1), the
small encoder learns the mPLM's embeddings, hidden states and raw attention scores through the uniform layer map
(TinyBERT's general distillation: unmasked text, no output layer -- the offline e5-small has no MLM head, and the
demo mPLM's is not distilled).

Both encoders are kept under ``cache_dir`` keyed by everything they are built from: the initial one as a Hugging
Face directory, the distilled one as a shared stage (resumable epoch by epoch, locked against parallel jobs) whose
``encoder/`` directory any later run loads with ``from_pretrained`` -- ``mplm=local mplm.name_or_path=DIR``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from distillx.data.schema import Example
from distillx.distill.stages import describe
from distillx.distill.teachers import BatchTeacher, examples_digest
from distillx.errors import DistillxError
from distillx.files import build_once, built_with, digest
from distillx.models.factory import TaskModel
from distillx.models.lean import build_lean, complete, save_encoder
from distillx.models.mplm import PretrainedEncoder, load_tokenizer

log = logging.getLogger(__name__)

ARCH_KEYS = ("layers", "hidden_size", "intermediate_size", "heads", "init", "init_layers", "embeddings")


class Features(nn.Module):
    """An encoder answering the training loop's call with what intermediate-layer objectives compare."""

    def __init__(self, encoder: PretrainedEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> dict[str, Any]:
        encoded = self.encoder(input_ids, attention_mask, hidden_states=True, attention_scores=True)
        return {
            "hidden_states": encoded.hidden_states,
            "attention_scores": encoded.attention_scores,
            "attention_mask": attention_mask,
        }


def initial_encoder(ctx, spec: DictConfig, root: Path) -> Path:
    """The small encoder before any training (vanilla), built once per mPLM, shape and seed."""
    teacher = ctx.models.mplm_path
    arch = {k: OmegaConf.to_container(spec[k]) if OmegaConf.is_config(spec[k]) else spec[k] for k in ARCH_KEYS}
    key = {
        "mplm": ctx.models.base_identity(teacher),
        "arch": arch,
        "seed": ctx.cfg.seed,
        **built_with(("distillx.models",)),
    }
    target = root / f"vanilla-{digest(key)}"

    def build(tmp: Path) -> None:
        model = build_lean(teacher, seed=ctx.cfg.seed, **arch)
        save_encoder(model, teacher, tmp, {"mplm": teacher, **arch, "pretrained": "no (vanilla)"})

    return build_once(target, build, complete, "the small encoder")


def lean_encoder(ctx) -> Path:
    """The directory of the run's small encoder (``lean`` config): vanilla, or distilled during pre-training."""
    spec = ctx.cfg.lean
    vanilla = initial_encoder(ctx, spec, ctx.lean_root)
    if not spec.distil:
        return vanilla
    return pretrain_distill(ctx, spec.pretrain, vanilla)


def _corpus(ctx, languages: list[str] | None, split: str, per_language: int | None) -> list[Example]:
    available = ctx.data.reader.languages
    chosen = list(languages) if languages else list(available)
    missing = [lang for lang in chosen if lang not in available]
    if missing:
        raise DistillxError(
            f"lean.pretrain.languages {missing}: dataset {ctx.data.reader.name} has only {', '.join(available)}"
        )
    return [ex for lang in chosen for ex in ctx.data.split(lang, split)[:per_language]]


def pretrain_distill(ctx, spec: DictConfig, initial: Path) -> Path:
    """Distil the mPLM into the encoder at ``initial`` on the dataset's unlabeled train text (a shared stage)."""
    teacher_path = ctx.models.mplm_path
    train = _corpus(ctx, spec.languages, "train", spec.get("max_per_language"))
    dev = _corpus(ctx, spec.languages, "dev", spec.dev_per_language)
    objective = instantiate(spec.objective)
    sampler = instantiate(spec.sampler)
    trainer, trainer_key = ctx.trainer_with(spec.trainer)
    tokenizer = load_tokenizer(teacher_path)

    def features(path: str | Path) -> Features:
        return Features(PretrainedEncoder(str(path), freeze_embeddings=spec.freeze_embeddings))

    torch.manual_seed(ctx.cfg.seed)
    student = features(initial)
    teacher = features(teacher_path).eval().requires_grad_(False)
    max_length = min(ctx.cfg.max_length, student.encoder.max_positions, teacher.encoder.max_positions)
    model = TaskModel("lean", "lean", student, tokenizer, max_length, float(spec.lr))
    stage = ctx.store.stage(
        "pretrain_distill",
        {
            "mplm": ctx.models.base_identity(teacher_path),
            "initial": ctx.models.base_identity(str(initial)),
            "max_length": max_length,
            "lr": model.lr,
            "freeze_embeddings": spec.freeze_embeddings,
            "train": examples_digest(train),
            "dev": examples_digest(dev),
            "objective": describe(objective),
            "sampler": describe(sampler),
            "trainer": trainer_key,
        },
        shared=True,
    )
    export = stage.real_dir / "encoder"
    if complete(export):
        log.info("pre-training-distilled encoder: %s", export)
        return export
    objective.attach(student, [teacher])
    teacher.to(trainer.device)
    # The loop wants a target per row; the teacher's outputs are computed batch by batch (``teacher_fn``).
    data = ctx.encode(model, train).with_targets({"row": torch.arange(len(train))})
    dev_data = ctx.encode(model, dev)

    teacher_fn = BatchTeacher({"*": teacher}, {"*": data}, features=False)

    dev_teacher = BatchTeacher({"*": teacher}, {"*": dev_data}, features=False)

    def dev_loss(_: object) -> dict[str, float]:
        loss = trainer.mean_loss(student, dev_data, objective, dev_teacher)
        return {"dev_distill_loss": loss, "dev_score": -loss}

    log.info(
        "pre-training distillation of %s into a %d-layer encoder: %d utterances in %d languages",
        Path(teacher_path).name,
        student.encoder.model.config.num_hidden_layers,
        len(train),
        len({ex.language for ex in train}),
    )
    with stage.lock():
        result = trainer.fit(
            student,
            data,
            objective,
            evaluate=dev_loss,
            select="dev_score",
            lr=model.lr,
            stage_dir=stage.dir,
            log_metrics=ctx.log_metrics,
            name=stage.name,
            sampler=sampler,
            teacher=teacher_fn,
        )
        info = {
            "mplm": teacher_path,
            "initial": str(initial),
            "languages": sorted({ex.language for ex in train}),
            "utterances": len(train),
            "epochs": result.epochs_run,
            "best_epoch": result.best_epoch,
            "dev_distill_loss": -result.best_score,
            "seconds": round(result.seconds, 1),
        }

        def build(tmp: Path) -> None:
            save_encoder(student.encoder.model, teacher_path, tmp, info)

        build_once(export, build, complete, "the distilled encoder")
    log.info("pre-training-distilled encoder: %s (use it as mplm=local mplm.name_or_path=%s)", export, export)
    ctx.log_metrics({"pretrain_distill/dev_distill_loss": -result.best_score})
    return export
