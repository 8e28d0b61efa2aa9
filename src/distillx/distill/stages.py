"""The stages every method is composed of: supervised training (the simulated off-the-shelf source model,
the gold reference), KD from a frozen teacher to a student over unlabeled text, and evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from distillx.context import RunContext, TaskModel
from distillx.data.schema import Example
from distillx.distill.losses import GoldLoss, KDLoss
from distillx.distill.teacher_cache import teacher_outputs
from distillx.report.scores import Decoded, decode, headline, score
from distillx.train.batching import Target
from distillx.train.loop import StageResult


def predict(ctx: RunContext, task_model: TaskModel, examples: list[Example]) -> Decoded:
    outputs = ctx.trainer.predict(task_model.model, ctx.encode(task_model, examples), desc=task_model.role)
    return decode(outputs, ctx.labels, ctx.slot_labels)


def evaluate(ctx: RunContext, task_model: TaskModel, examples: list[Example], where: str) -> dict[str, float]:
    """Accuracy / slot F1 / exact match against gold labels: evaluation only, never a training signal."""
    return score(predict(ctx, task_model, examples), **ctx.reference(examples, where))


def train_supervised(
    ctx: RunContext,
    name: str,
    task_model: TaskModel,
    train: list[Example],
    dev: list[Example],
    lr: float,
    *,
    labels: Mapping[str, Target] | None = None,
    dev_reference: Mapping[str, list] | None = None,
    depends_on: Sequence[str] = (),
) -> StageResult:
    """Cross-entropy on label ids, best epoch by dev score (accuracy and/or slot F1).

    The labels are the gold ones unless ``labels`` (train) and ``dev_reference`` (dev, as for ``score``) are
    given, e.g. a teacher's pseudo-labels; ``depends_on`` shares the stage across runs (``ctx.stage_dir``)."""
    data = ctx.encode(task_model, train).with_targets(labels or ctx.gold(train, f"{name} train"))
    dev_inputs = ctx.encode(task_model, dev)
    dev_reference = dev_reference or ctx.reference(dev, f"{name} dev")

    def dev_score(_: object) -> dict[str, float]:
        outputs = ctx.trainer.predict(task_model.model, dev_inputs, desc=task_model.role)
        metrics = score(decode(outputs, ctx.labels, ctx.slot_labels), **dev_reference)
        return {f"dev_{k}": v for k, v in metrics.items()} | {"dev_score": headline(metrics)}

    return ctx.trainer.fit(
        task_model.model,
        data,
        GoldLoss(),
        evaluate=dev_score,
        select="dev_score",
        lr=lr,
        stage_dir=ctx.stage_dir(name, depends_on),
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
    *,
    teacher_inputs: list[Example] | None = None,
    depends_on: Sequence[str] = (),
) -> StageResult:
    """KD from a frozen ``teacher`` to ``student`` on unlabeled ``train`` text (freetransfer-x.md §2.2.2),
    sentence level and/or word level (at each word's first sub-word in both models' tokenizations).

    ``teacher_inputs[i]`` is what the teacher reads for ``train[i]`` (default: the same utterance); language-
    balanced distillation gives it the English original of a translated utterance (§2.3.1).
    Label-free throughout: the best epoch is the one whose predictions on ``dev`` agree most with the
    teacher's (intent agreement and/or slot F1 against the teacher's tags), and ``dev``'s gold labels are
    never read."""
    stage_dir = ctx.stage_dir(name, depends_on)
    teacher_inputs = train if teacher_inputs is None else teacher_inputs
    if len(teacher_inputs) != len(train):
        raise ValueError(f"stage {name}: {len(teacher_inputs)} teacher inputs for {len(train)} training utterances")
    targets = teacher_outputs(ctx, teacher, teacher_inputs, stage_dir / "teacher_train_outputs.pt")
    dev_teacher = decode(
        teacher_outputs(ctx, teacher, dev, stage_dir / "teacher_dev_outputs.pt"), ctx.labels, ctx.slot_labels
    )
    dev_inputs = ctx.encode(student, dev)  # tokenized once, scored every epoch

    def agreement(_: object) -> dict[str, float]:
        outputs = ctx.trainer.predict(student.model, dev_inputs, desc=student.role)
        metrics = score(decode(outputs, ctx.labels, ctx.slot_labels), dev_teacher.intents, dev_teacher.slots)
        return {f"dev_teacher_{k}": v for k, v in metrics.items()} | {"dev_teacher_agreement": headline(metrics)}

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
