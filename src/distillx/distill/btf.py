"""Bilingual task fitting (BTF, selftraining-without-parallel.md §3.1): the mPLM's masked-LM training continued on
the unlabeled task text of the source and the target language mixed, each batch of one language drawn uniformly
so that both weigh the same however many utterances each has, with the embeddings and the bottom layers frozen.

The result is a shared stage (resumable epoch by epoch, locked against parallel jobs) whose ``encoder/``
directory holds the continued model with its MLM head: the base every self-training model starts from, loadable
with ``from_pretrained`` like any mPLM (``mplm=local mplm.name_or_path=DIR``)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from distillx.data.schema import Example
from distillx.distill.stages import describe
from distillx.distill.teachers import examples_digest
from distillx.errors import DistillxError
from distillx.files import build_once
from distillx.models.factory import TaskModel
from distillx.models.lean import complete, save_encoder
from distillx.models.mlm import MaskedLM, mlm_objective
from distillx.models.mplm import load_tokenizer

log = logging.getLogger(__name__)

INFO = "btf_info.json"


def _complete(directory: Path) -> bool:
    return complete(directory, INFO)


def _text(ctx, languages: list[str], split: str, per_language: int | None) -> list[Example]:
    """Unlabeled text: the utterances of ``split`` in each language, never their labels."""
    available = ctx.data.reader.languages
    missing = [lang for lang in languages if lang not in available]
    if missing:
        raise DistillxError(f"method.btf.languages {missing}: dataset {ctx.data.reader.name} has only {available}")
    return [ex for lang in languages for ex in ctx.data.split(lang, split)[:per_language]]


def bilingual_task_fitting(ctx, spec: DictConfig, sampler: object, languages: list[str]) -> Path:
    """The directory of the mPLM after BTF on ``languages``' train text (built once, then reused)."""
    mplm = ctx.models.mplm_path
    train = _text(ctx, languages, "train", spec.max_per_language)
    dev = _text(ctx, languages, "dev", spec.dev_per_language)
    trainer, trainer_key = ctx.trainer_with(spec.trainer)
    tokenizer = load_tokenizer(mplm)
    stage = ctx.store.stage(
        "btf",
        {
            "mplm": ctx.models.base_identity(mplm),
            "languages": languages,
            "train": examples_digest(train),
            "dev": examples_digest(dev),
            "lr": float(spec.lr),
            "mlm_probability": spec.mlm_probability,
            "frozen_layers": spec.frozen_layers,
            "freeze_embeddings": spec.freeze_embeddings,
            "max_length": ctx.cfg.max_length,
            "sampler": describe(sampler),
            "trainer": trainer_key,
            "seed": ctx.cfg.seed,
        },
        shared=True,
    )
    export = stage.real_dir / "encoder"
    if _complete(export):
        log.info("bilingual-task-fitted mPLM: %s", export)
        return export
    torch.manual_seed(ctx.cfg.seed)
    model = MaskedLM(
        mplm,
        special_ids=tokenizer.all_special_ids,
        mask_id=tokenizer.mask_token_id,
        probability=spec.mlm_probability,
        frozen_layers=spec.frozen_layers,
        freeze_embeddings=spec.freeze_embeddings,
    )
    if not model.head_trained:
        log.warning(
            "%s has no trained MLM head (%s missing): BTF trains a new one, its decoder tied to the input "
            "embeddings, so its first steps fit the head as much as the encoder",
            Path(mplm).name,
            ", ".join(model.new_head_weights[:3]),
        )
    max_length = min(ctx.cfg.max_length, int(getattr(model.model.config, "max_position_embeddings", 512)))
    reader = TaskModel("btf", "btf", model, tokenizer, max_length, float(spec.lr))
    data = ctx.encode(reader, train).with_targets({"row": torch.arange(len(train))})
    dev_data = ctx.encode(reader, dev)

    def dev_loss(_: object) -> dict[str, float]:
        loss = trainer.mean_loss(model, dev_data, mlm_objective, lambda rows, language, device: {})
        return {"dev_mlm_loss": loss, "dev_score": -loss}

    log.info(
        "bilingual task fitting of %s: %d utterances (%s), embeddings%s and %d bottom layers frozen",
        Path(mplm).name,
        len(train),
        ", ".join(f"{lang} {sum(ex.language == lang for ex in train)}" for lang in languages),
        "" if spec.freeze_embeddings else " not",
        spec.frozen_layers,
    )
    with stage.lock():
        result = trainer.fit(
            model,
            data,
            mlm_objective,
            evaluate=dev_loss,
            select="dev_score",
            lr=reader.lr,
            stage_dir=stage.dir,
            log_metrics=ctx.log_metrics,
            name=stage.name,
            sampler=sampler,
        )
        info = {
            "mplm": mplm,
            "languages": languages,
            "utterances": len(train),
            "epochs": result.epochs_run,
            "best_epoch": result.best_epoch,
            "dev_mlm_loss": -result.best_score,
            "mlm_head": "trained (from the checkpoint)" if model.head_trained else "new, decoder tied to embeddings",
            "seconds": round(result.seconds, 1),
        }

        def build(tmp: Path) -> None:
            save_encoder(model.model, mplm, tmp, info, INFO)

        build_once(export, build, _complete, "the bilingual-task-fitted mPLM")
    ctx.log_metrics({"btf/dev_mlm_loss": -result.best_score})
    log.info("bilingual-task-fitted mPLM: %s (use it as mplm=local mplm.name_or_path=%s)", export, export)
    return export
