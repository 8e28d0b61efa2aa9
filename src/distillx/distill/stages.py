"""The stages every method is composed of: supervised training (the simulated off-the-shelf source model, gold or
pseudo-label references), KD from frozen teachers to a student over unlabeled text, and evaluation.

A stage optimises the objective its method's config gives it and lives in the stage store under a key made of
everything it is built from (models, data, teachers' weights, objective, trainer), held under the stage's lock
while it is built or read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from distillx.context import RunContext
from distillx.data.schema import Example
from distillx.distill.teachers import Teachers, as_map, examples_digest, online_teacher, stored_outputs
from distillx.errors import DistillxError
from distillx.files import digest_lines
from distillx.models.factory import TaskModel
from distillx.report.scores import Decoded, headline, score
from distillx.store import Stage
from distillx.train.batching import EncodedSet, Target
from distillx.train.loop import StageResult, Trainer

SIMPLE = (bool, int, float, str, type(None))


def describe(component: Any) -> Any:
    """The settings of a configured component (objective, term, sampler) as plain values, for stage keys."""
    if component is None:
        return None
    if isinstance(component, (list, tuple, nn.ModuleList)):
        return [describe(c) for c in component]
    settings = {k: v for k, v in vars(component).items() if not k.startswith("_") and k != "training"}
    out: dict[str, Any] = {"type": f"{type(component).__module__}.{type(component).__qualname__}"}
    for k, v in sorted(settings.items()):
        out[k] = v if isinstance(v, SIMPLE) else list(v) if isinstance(v, (tuple, frozenset)) else None
    children = getattr(component, "_modules", {})
    for k, child in children.items():
        out[k] = describe(child)
    return out


def targets_digest(targets: Mapping[str, Target]) -> str:
    """The digest of label ids (gold or pseudo) per head, for the key of a stage trained on them."""
    return digest_lines(f"{head}\t{row.tolist()}" for head in sorted(targets) for row in targets[head])


def predict(ctx: RunContext, task_model: TaskModel, examples: list[Example]) -> Decoded:
    outputs = ctx.trainer.predict(task_model.model, ctx.encode(task_model, examples), desc=task_model.role)
    return ctx.labels.decode(outputs)


def evaluate(ctx: RunContext, task_model: TaskModel, examples: list[Example], where: str) -> dict[str, float]:
    """Accuracy / slot F1 / exact match against gold labels: evaluation only, never a training signal."""
    return score(predict(ctx, task_model, examples), **ctx.labels.reference(examples, where))


def train_supervised(
    ctx: RunContext,
    name: str,
    task_model: TaskModel,
    train: list[Example],
    dev: list[Example],
    objective: nn.Module,
    *,
    labels: Mapping[str, Target] | None = None,
    dev_reference: Mapping[str, list] | None = None,
    sampler: Any = None,
    shared: bool = False,
    trainer_options: Mapping[str, Any] | None = None,
) -> StageResult:
    """Train on label ids (``objective``, e.g. hard cross-entropy), best epoch by dev score (accuracy and/or
    slot F1). The labels are the gold ones unless ``labels`` (train) and ``dev_reference`` (dev, as for
    ``score``) are given, e.g. a teacher's pseudo-labels; ``shared`` keeps the stage in the shared store;
    ``trainer_options`` replace the run's trainer settings for this stage (and its key)."""
    trainer, trainer_key = ctx.trainer_with(trainer_options)
    targets = labels if labels is not None else ctx.labels.gold(train, f"{name} train")
    dev_reference = dev_reference if dev_reference is not None else ctx.labels.reference(dev, f"{name} dev")
    stage = ctx.store.stage(
        name,
        {
            "model": task_model.fingerprint,
            "lr": task_model.lr,
            "train": [examples_digest(train), targets_digest(targets)],
            "dev": [examples_digest(dev), digest_lines(map(str, sorted(dev_reference.items())))],
            "objective": describe(objective),
            "sampler": describe(sampler),
            "trainer": trainer_key,
        },
        shared=shared,
    )
    data = ctx.encode(task_model, train).with_targets(targets)
    dev_inputs = ctx.encode(task_model, dev)

    def dev_score(_: object) -> dict[str, float]:
        outputs = ctx.trainer.predict(task_model.model, dev_inputs, desc=task_model.role)
        metrics = score(ctx.labels.decode(outputs), **dev_reference)
        return {f"dev_{k}": v for k, v in metrics.items()} | {"dev_score": headline(metrics)}

    with stage.lock():
        return _fit(ctx, trainer, stage, task_model, data, objective, dev_score, "dev_score", sampler=sampler)


def _fit(
    ctx: RunContext,
    trainer: Trainer,
    stage: Stage,
    task_model: TaskModel,
    data: EncodedSet,
    objective: nn.Module,
    evaluate: Callable[[nn.Module], Mapping[str, float]],
    select: str,
    **options: Any,
) -> StageResult:
    """Train ``task_model`` in ``stage`` (held locked by the caller); the model is known by its checkpoint after."""
    result = trainer.fit(
        task_model.model,
        data,
        objective,
        evaluate=evaluate,
        select=select,
        lr=task_model.lr,
        lr_search=task_model.lr_search,
        stage_dir=stage.dir,
        log_metrics=ctx.log_metrics,
        name=stage.name,
        **options,
    )
    task_model.weights = result.weights
    return result


def distill(
    ctx: RunContext,
    name: str,
    teachers: Teachers,
    student: TaskModel,
    train: list[Example],
    dev: list[Example],
    objective: nn.Module,
    *,
    teacher_inputs: list[Example] | None = None,
    sampler: Any = None,
    shared: bool = False,
    gold: Mapping[str, Target] | None = None,
    trainer_options: Mapping[str, Any] | None = None,
) -> StageResult:
    """KD from frozen ``teachers`` (one, or one per language) to ``student`` on unlabeled ``train`` text
    (freetransfer-x.md §2.2.2; mblm-multikd.md Eq. 4 with several), sentence level and/or word level (at each
    word's first sub-word in both models' tokenizations), optimising ``objective``.

    ``teacher_inputs[i]`` is what the teacher reads for ``train[i]`` (default: the same utterance); language-
    balanced distillation gives it the English original of a translated utterance (§2.3.1). ``sampler`` draws
    the batches (one language per batch for several teachers or a multi-branch student). ``gold`` label ids of
    ``train`` (per head) are handed to objective terms with ``gold: true`` as ``gold_<head>`` (ft-distill's
    cross-entropy); without them the stage is label-free. Either way the best epoch is the one whose predictions
    on ``dev`` agree most with the teachers' (intent agreement and/or slot F1 against the teachers' tags), and
    ``dev``'s gold labels are never read; an objective that trains no output (TinyBERT's intermediate-layer phase)
    keeps the epoch with the lowest objective on ``dev`` instead. ``trainer_options`` replace the run's trainer
    settings for this stage (and its key)."""
    trainer, trainer_key = ctx.trainer_with(trainer_options)
    teacher_inputs = train if teacher_inputs is None else teacher_inputs
    if len(teacher_inputs) != len(train):
        raise ValueError(f"stage {name}: {len(teacher_inputs)} teacher inputs for {len(train)} training utterances")
    routes = as_map(teachers)
    stage = ctx.store.stage(
        name,
        {
            "student": student.fingerprint,
            "lr": student.lr,
            "teachers": {lang: t.fingerprint for lang, t in sorted(routes.items())},
            "train": examples_digest(train),
            "teacher_inputs": examples_digest(teacher_inputs),
            "dev": examples_digest(dev),
            "gold": None if gold is None else targets_digest(gold),
            "objective": describe(objective),
            "sampler": describe(sampler),
            "trainer": trainer_key,
        },
        shared=shared,
    )
    if getattr(objective, "needs_gold", False) and gold is None:
        raise DistillxError(f"stage {name}: the objective has a gold-label term (gold: true) but no gold labels")
    if hasattr(objective, "attach"):  # projections of intermediate matches live in the student (checkpointed)
        objective.attach(student.model, [t.model for t in routes.values()])
    with stage.lock():
        if getattr(objective, "needs_features", None):
            targets: dict[str, Target] = {}
            teacher_fn = online_teacher(ctx, teachers, teacher_inputs)
        else:
            targets = stored_outputs(ctx, teachers, teacher_inputs, stage.dir / "teacher_train_outputs.pt")
            teacher_fn = None
        dev_inputs = ctx.encode(student, dev)  # tokenized once, scored every epoch

        if getattr(objective, "trains_outputs", True):
            dev_teacher = ctx.labels.decode(stored_outputs(ctx, teachers, dev, stage.dir / "teacher_dev_outputs.pt"))

            def evaluate(_: object) -> dict[str, float]:
                outputs = ctx.trainer.predict(student.model, dev_inputs, desc=student.role)
                metrics = score(ctx.labels.decode(outputs), dev_teacher.intents, dev_teacher.slots)
                agreement = {"dev_teacher_agreement": headline(metrics)}
                return {f"dev_teacher_{k}": v for k, v in metrics.items()} | agreement

            select = "dev_teacher_agreement"
        else:  # intermediate matches only: the heads stay untrained, so the teacher's dev predictions are not needed
            dev_teacher_fn = online_teacher(ctx, teachers, dev)

            def evaluate(_: object) -> dict[str, float]:
                loss = ctx.trainer.mean_loss(student.model, dev_inputs, objective, dev_teacher_fn)
                return {"dev_distill_loss": loss, "dev_score": -loss}

            select = "dev_score"
        if gold is not None:
            targets = {**targets, **{f"gold_{head}": ids for head, ids in gold.items()}}
        data = ctx.encode(student, train).with_targets(targets)
        return _fit(
            ctx, trainer, stage, student, data, objective, evaluate, select, sampler=sampler, teacher=teacher_fn
        )
