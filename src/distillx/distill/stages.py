"""The stages every method is composed of: supervised training (the simulated off-the-shelf source model,
the gold reference), KD from a frozen teacher to a student over unlabeled text, and evaluation."""

from __future__ import annotations

import torch

from distillx.context import RunContext, TaskModel
from distillx.data.schema import Example
from distillx.distill.losses import GoldLoss, KDLoss
from distillx.distill.teacher_cache import teacher_logits
from distillx.train.loop import StageResult


def predictions(ctx: RunContext, task_model: TaskModel, examples: list[Example]) -> torch.Tensor:
    return ctx.trainer.predict(task_model.model, ctx.encode(task_model, examples), desc=task_model.role).argmax(-1)


def accuracy(ctx: RunContext, task_model: TaskModel, examples: list[Example], where: str) -> float:
    """Intent accuracy against gold labels: evaluation only, never a training signal."""
    gold = ctx.gold_for_eval(examples, where)
    return (predictions(ctx, task_model, examples) == gold).float().mean().item()


def train_supervised(
    ctx: RunContext, name: str, task_model: TaskModel, train: list[Example], dev: list[Example], lr: float
) -> StageResult:
    """Cross-entropy on gold labels, best epoch by gold dev accuracy."""
    data = ctx.encode(task_model, train).with_targets(ctx.gold(train, f"{name} train"))
    dev_inputs, dev_gold = ctx.encode(task_model, dev), ctx.gold_for_eval(dev, f"{name} dev")

    def dev_accuracy(_: object) -> dict[str, float]:
        predicted = ctx.trainer.predict(task_model.model, dev_inputs, desc=task_model.role).argmax(-1)
        return {"dev_accuracy": (predicted == dev_gold).float().mean().item()}

    return ctx.trainer.fit(
        task_model.model,
        data,
        GoldLoss(),
        evaluate=dev_accuracy,
        select="dev_accuracy",
        lr=lr,
        stage_dir=ctx.stage_dir(name),
        log_metrics=ctx.log_metrics,
        name=name,
    )


def distill(
    ctx: RunContext,
    name: str,
    teacher: TaskModel,
    student: TaskModel,
    train: list[Example],
    dev: list[Example],
    lr: float,
    temperature: float,
) -> StageResult:
    """KD from a frozen ``teacher`` to ``student`` on unlabeled ``train`` text (freetransfer-x.md §2.2.2).

    Label-free throughout: the best epoch is the one whose predictions on ``dev`` agree most with the
    teacher's, and ``dev``'s gold labels are never read."""
    stage_dir = ctx.stage_dir(name)
    teacher.model.eval()
    targets = teacher_logits(ctx, teacher, train, stage_dir / "teacher_train_logits.pt")
    dev_teacher = teacher_logits(ctx, teacher, dev, stage_dir / "teacher_dev_logits.pt").argmax(-1)

    dev_inputs = ctx.encode(student, dev)  # tokenized once, scored every epoch

    def agreement(_: object) -> dict[str, float]:
        predicted = ctx.trainer.predict(student.model, dev_inputs, desc=student.role).argmax(-1)
        return {"dev_teacher_agreement": (predicted == dev_teacher).float().mean().item()}

    return ctx.trainer.fit(
        student.model,
        ctx.encode(student, train).with_targets(targets),
        KDLoss(temperature),
        evaluate=agreement,
        select="dev_teacher_agreement",
        lr=lr,
        stage_dir=stage_dir,
        log_metrics=ctx.log_metrics,
        name=name,
    )
