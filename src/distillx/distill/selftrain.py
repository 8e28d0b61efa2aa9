"""Zero-shot transfer without parallel data (selftraining-without-parallel.md): bilingual task fitting (BTF), the
source model fine-tuned on it, then self-training rounds on the unlabeled target text.

The schedule lists the steps (``[soft, hard, soft]`` is the paper's N = 1.5 on CoNLL). A soft step starts a round:
a student restored from the BTF model learns the teacher's probabilities on the target text with MSE (Eq. 1); the
teacher is the fine-tuned source model in the first round and the last hard-step student afterwards. A hard step
fine-tunes the round's model further with cross-entropy (Eq. 2) on (a) the target text's pseudo-labels that model
is confident of -- all voters agree and all exceed alpha (Eq. 4) -- and (b) the source examples it predicts
correctly, alpha chosen automatically at the knee of its accuracy on the labeled source data (Eq. 3).

A zero-shot method, not a label-free one: it reads the source language's gold labels (fine-tuning, the threshold,
the source half of hard steps) and never a target label outside the test scores."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn
from transformers import AutoConfig

from distillx.context import RunContext
from distillx.data.schema import Example
from distillx.distill.btf import bilingual_task_fitting
from distillx.distill.objectives import IGNORE_INDEX
from distillx.distill.stages import distill, evaluate, train_supervised
from distillx.distill.threshold import ThresholdChoice, choose_threshold, plot_threshold, threshold_grid
from distillx.errors import DistillxError
from distillx.files import atomic_write_json
from distillx.models.factory import TaskModel
from distillx.models.voters import confidence, vote
from distillx.report.results import Results
from distillx.train.loop import StageResult

log = logging.getLogger(__name__)

STEPS = ("soft", "hard")


def copy_of(model: TaskModel, lr: float) -> TaskModel:
    """An independent copy of ``model`` (same weights and key) to train further at ``lr``."""
    clone = copy.copy(model)
    clone.model = copy.deepcopy(model.model)
    clone.identity = dict(model.identity)
    clone.lr = float(lr)
    return clone


def agreement(fitted: StageResult) -> str:
    """How far a soft step's student got towards its teacher on the target dev text: the one label-free sign of
    an under-trained step. Fresh heads learn slowly from probabilities: on CoNLL de (2.6k target sentences), 10
    epochs reached 74 % in round 1 and 62 % in round 2, both still rising, and round 2 lost 27 points of test F1;
    30 epochs reached 85 % and 90 %, and round 2 gained."""
    text = (
        f"dev agreement with its teacher {100 * fitted.best_score:.1f} % (best epoch {fitted.best_epoch} of "
        f"{fitted.epochs_run})"
    )
    if fitted.epochs_run > 1 and fitted.best_epoch == fitted.epochs_run:  # a new best is a strict improvement
        text += ", still rising at the last epoch: more method.step_trainer.soft.epochs may help"
    return text


class SelfTrain:
    def __init__(
        self,
        supervised: nn.Module,
        soft: nn.Module,
        hard: nn.Module,
        schedule: Sequence[str],
        lr_scale: DictConfig,
        step_trainer: DictConfig,
        btf: DictConfig,
        btf_sampler: Any,
        threshold: DictConfig,
        voters: DictConfig,
    ) -> None:
        unknown = [step for step in schedule if step not in STEPS]
        if unknown:
            raise DistillxError(f"method.schedule {list(schedule)}: steps must be soft or hard, got {unknown}")
        self.supervised, self.soft, self.hard = supervised, soft, hard
        self.schedule = list(schedule)
        self.lr_scale = lr_scale
        self.step_trainer = step_trainer
        self.btf, self.btf_sampler = btf, btf_sampler
        self.threshold = threshold
        self.voters = voters
        if threshold.auto:
            self.grid = threshold_grid(**threshold.grid)

    # ---------------------------------------------------------------- models
    def base(self, ctx: RunContext) -> str:
        """The encoder every model starts from: the mPLM after BTF, or the mPLM itself (``btf.enabled=false``)."""
        if not self.btf.enabled:
            return ctx.models.mplm_path
        languages = list(self.btf.languages or [ctx.source, ctx.target])
        return str(bilingual_task_fitting(ctx, self.btf, self.btf_sampler, languages))

    def fresh(self, ctx: RunContext, base: str, lr: float) -> TaskModel:
        """A model restored from the base encoder, with voters heads when they are on."""
        width = int(AutoConfig.from_pretrained(base).hidden_size)
        sizes = [width + int(offset) for offset in self.voters.offsets] if self.voters.enabled else None
        model = ctx.models.pretrained_model("student", path=base, voters=sizes)
        model.lr = float(lr)
        model.arch += (" after BTF" if self.btf.enabled else "") + (f", {len(sizes)} voters" if sizes else "")
        return model

    # ---------------------------------------------------------------- run
    def run(self, ctx: RunContext) -> Results:
        src, tgt = ctx.source, ctx.target
        heads = ctx.labels.heads
        if len(heads) != 1:
            raise DistillxError(
                f"method=selftrain pseudo-labels one head, the dataset gives {list(heads)}: set dataset.task=intent "
                "or dataset.task=slots"
            )
        (self.head,) = heads
        source_train, source_dev = ctx.data.split(src, "train"), ctx.data.split(src, "dev")
        target_text, target_dev = ctx.data.split(tgt, "train"), ctx.data.split(tgt, "dev")  # text only: no label
        base = self.base(ctx)
        lr = float(ctx.cfg.student.lr)
        teacher = self.fresh(ctx, base, lr)
        train_supervised(ctx, "selftrain_finetune", teacher, source_train, source_dev, self.supervised, shared=True)
        teacher.role = "finetuned"
        results = Results(source=src, target=tgt)
        results.title = (
            f"selftrain {src} -> {tgt}: BTF {'on' if self.btf.enabled else 'off'}, schedule "
            f"{self.schedule or 'none'}, threshold {'auto' if self.threshold.auto else self.threshold.alpha}, "
            f"voters {'on' if self.voters.enabled else 'off'}; test scores (%)"
        )
        self.report(ctx, results, teacher, 0)
        current, round_teacher = teacher, teacher
        for step, kind in enumerate(self.schedule, 1):
            name = f"selftrain_{step}_{kind}"
            if kind == "soft":
                current = self.fresh(ctx, base, lr * self.lr_scale.soft)
                fitted = distill(
                    ctx,
                    name,
                    round_teacher,
                    current,
                    target_text,
                    target_dev,
                    self.soft,
                    shared=True,
                    trainer_options=self.step_trainer.soft,
                )
                results.notes.append(f"{name}: {agreement(fitted)}")
            else:
                current = self.hard_step(
                    ctx, name, current, lr * self.lr_scale.hard, source_train, target_text, results
                )
                round_teacher = current
            current.role = f"{kind}{step}"
            self.report(ctx, results, current, step)
        return results

    def report(self, ctx: RunContext, results: Results, model: TaskModel, step: int) -> None:
        for lang in (ctx.source, ctx.target):
            scores = evaluate(ctx, model, ctx.data.split(lang, "test"), f"{lang} test")
            results.add(model, lang, scores)
            ctx.log_metrics({f"selftrain/{lang}/{k}": v for k, v in scores.items()}, step)

    # ---------------------------------------------------------------- hard step
    def judge(self, ctx: RunContext, model: TaskModel, examples: list[Example]) -> tuple[list, list, list]:
        """Per example, the model's labels, their confidences (Eq. 4 with voters: -1 where they disagree; the max
        probability without) and which of them the model saw (word-level heads: not the words truncated away)."""
        outputs = ctx.trainer.predict(model.model, ctx.encode(model, examples), desc=f"{model.role} pseudo-labels")
        key = f"{self.head}_voters" if f"{self.head}_voters" in outputs else self.head
        rule = vote if key.endswith("_voters") else confidence
        if self.head == "intent":
            labels, conf = rule(outputs[key])
            return list(labels), list(conf), [torch.tensor(True)] * len(examples)
        labels, confs, seen = [], [], []
        for logits, visible in zip(outputs[key], outputs["word_mask"], strict=True):
            label, conf = rule(logits)
            labels.append(label)
            confs.append(conf.masked_fill(~visible, -1.0))
            seen.append(visible)
        return labels, confs, seen

    def choose(self, ctx: RunContext, name: str, confs: list[Any], correct: list[Any]) -> ThresholdChoice | float:
        """alpha: at the knee of the source accuracy curve (Eq. 3), or the configured one (``threshold.auto``)."""
        if not self.threshold.auto:
            return float(self.threshold.alpha)
        flat_conf = torch.cat([torch.as_tensor(c).reshape(-1).float() for c in confs])
        flat_correct = torch.cat([torch.as_tensor(c).reshape(-1).bool() for c in correct])
        choice = choose_threshold(
            flat_conf, flat_correct, self.grid, self.threshold.fallback, self.threshold.sensitivity
        )
        out = ctx.output_dir / "selftrain"
        out.mkdir(parents=True, exist_ok=True)
        plot = plot_threshold(choice, out / f"{name}_threshold.png", f"{name}: accuracy of confident predictions")
        atomic_write_json(
            {
                "alpha": choice.alpha,
                "knee": choice.knee,
                "reason": choice.reason,
                "grid": choice.grid,
                "accuracy": choice.accuracy,
                "recall": choice.recall,
            },
            out / f"{name}_threshold.json",
        )
        ctx.tracker.log_artifact(plot, artifact_path="selftrain")
        log.info("%s: alpha %.3f (%s)", name, choice.alpha, choice.reason)
        return choice

    def hard_step(
        self,
        ctx: RunContext,
        name: str,
        model: TaskModel,
        lr: float,
        source_train: list[Example],
        target_text: list[Example],
        results: Results,
    ) -> TaskModel:
        gold = ctx.labels.gold(source_train, f"{name} source train")[self.head]
        labels, confs, seen = self.judge(ctx, model, source_train)
        correct = [(p == g) & v for p, g, v in zip(labels, gold, seen, strict=True)]
        chosen = self.choose(ctx, name, confs, correct)
        alpha = chosen.alpha if isinstance(chosen, ThresholdChoice) else chosen
        # (b) the source examples it predicts correctly (per word for tags), (a) the target pseudo-labels it is
        # confident of; an utterance with nothing kept is left out.
        kept_src = [torch.where(c, torch.as_tensor(g), IGNORE_INDEX) for c, g in zip(correct, gold, strict=True)]
        pseudo, target_confs, target_seen = self.judge(ctx, model, target_text)
        kept_tgt = [
            torch.where(torch.as_tensor(c) > alpha, torch.as_tensor(p), IGNORE_INDEX)
            for p, c in zip(pseudo, target_confs, strict=True)
        ]
        train, ids = [], []
        for examples, kept in ((source_train, kept_src), (target_text, kept_tgt)):
            for ex, label in zip(examples, kept, strict=True):
                if (label != IGNORE_INDEX).any():
                    train.append(ex)
                    ids.append(label)
        if not train:
            raise DistillxError(
                f"{name}: no pseudo-label passed alpha={alpha:.3f} and no source example was predicted correctly; "
                "lower method.threshold.alpha / fallback, or check the soft step's model"
            )
        counts = {
            "alpha": alpha,
            "target_kept": float(sum(int((k != IGNORE_INDEX).sum()) for k in kept_tgt)),
            "target_total": float(sum(int(v.sum()) for v in target_seen)),
            "source_kept": float(sum(int((k != IGNORE_INDEX).sum()) for k in kept_src)),
            "source_total": float(sum(int(v.sum()) for v in seen)),
        }
        ctx.log_metrics({f"{name}/{k}": v for k, v in counts.items()})
        unit = "intents" if self.head == "intent" else "word tags"
        how = chosen.reason if isinstance(chosen, ThresholdChoice) else "fixed (threshold.auto=false)"
        results.notes.append(
            f"{name}: alpha {alpha:.3f} ({how}); kept {counts['target_kept']:.0f}/{counts['target_total']:.0f} "
            f"target pseudo-{unit} and {counts['source_kept']:.0f}/{counts['source_total']:.0f} source {unit}"
        )
        targets = {self.head: torch.stack(ids) if self.head == "intent" else ids}
        student = copy_of(model, lr)
        source_dev = ctx.data.split(ctx.source, "dev")
        train_supervised(
            ctx,
            name,
            student,
            train,
            source_dev,
            self.hard,
            labels=targets,
            shared=True,
            trainer_options=self.step_trainer.hard,
        )
        return student
