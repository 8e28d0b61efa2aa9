"""Teachers of a KD stage: one for every utterance, or one per language (multi-teacher KD routes each utterance to
its language's teacher). Their outputs are computed once and stored beside the stage when the objective needs
only logits, or computed batch by batch when it needs features (hidden states cannot be stored for a corpus).

A frozen teacher gives the same outputs for the same input every epoch, so recomputing them each epoch is wasted
work (for an mPLM teacher it is most of the work). Stored outputs are keyed by the teacher's weights (the digest of
its checkpoint), its identity (tokenizer, config, label set) and the inputs, so they are never served for another
teacher or other text."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from distillx.data.schema import Example
from distillx.errors import DistillxError
from distillx.files import atomic_torch_save, digest, digest_lines
from distillx.models.factory import TaskModel
from distillx.train.batching import WORD_LEVEL, EncodedSet, Target, collate

log = logging.getLogger(__name__)

Teachers = TaskModel | Mapping[str, TaskModel]
"""One teacher for every utterance, or a teacher per language code (``*`` for the languages not named)."""


def as_map(teachers: Teachers) -> dict[str, TaskModel]:
    return {"*": teachers} if isinstance(teachers, TaskModel) else dict(teachers)


def teacher_of(teachers: Mapping[str, TaskModel], language: str | None) -> TaskModel:
    """The teacher of an utterance (or batch) in ``language``."""
    if language in teachers:
        return teachers[language]
    if "*" in teachers:
        return teachers["*"]
    raise DistillxError(
        f"no teacher for language {language!r} (teachers: {', '.join(sorted(teachers))}); "
        "give that language a teacher, or a '*' teacher for the rest"
    )


def examples_digest(examples: list[Example]) -> str:
    """What a model reads of ``examples`` (language, id, words of both sentences), in order: never the labels."""
    return digest_lines(f"{ex.language}\t{ex.id}\t{' '.join(ex.words)}\t{' '.join(ex.pair_words)}" for ex in examples)


def _routes(teachers: Mapping[str, TaskModel], examples: list[Example]) -> list[tuple[TaskModel, list[int]]]:
    groups: dict[int, tuple[TaskModel, list[int]]] = {}
    for i, ex in enumerate(examples):
        teacher = teacher_of(teachers, ex.language)
        groups.setdefault(id(teacher), (teacher, []))[1].append(i)
    return list(groups.values())


def stored_outputs(ctx, teachers: Teachers, examples: list[Example], path: Path) -> dict[str, Target]:
    """KD targets for ``examples``: each teacher's float32 ``intent`` logits and/or per-word ``slots`` logits with
    ``word_mask`` (the words the teacher saw), on the utterances routed to it; loaded from ``path`` when it holds
    them for the same teachers and inputs."""
    routes = _routes(as_map(teachers), examples)
    key = digest(
        {
            "teachers": [[t.fingerprint, digest_lines(map(str, rows))] for t, rows in routes],
            "inputs": examples_digest(examples),
        }
    )
    if path.exists():
        cached = torch.load(path, weights_only=True)
        if cached.get("key") == key:
            return cached["targets"]
        log.warning("%s was computed for other teachers or inputs; recomputing", path)
    merged: dict[str, list] = {}
    for teacher, rows in routes:
        subset = [examples[i] for i in rows]
        outputs = ctx.trainer.predict(teacher.model, ctx.encode(teacher, subset), desc=f"{teacher.role} outputs")
        for head, values in outputs.items():
            column = merged.setdefault(head, [None] * len(examples))
            for i, value in zip(rows, values, strict=True):
                column[i] = value
    targets = {head: col if head in WORD_LEVEL else torch.stack(col) for head, col in merged.items()}
    atomic_torch_save({"key": key, "targets": targets}, path)
    return targets


class BatchTeacher:
    """Frozen teachers run on a batch's rows, each on its own encoding of the examples: a teacher per language
    (``*`` for the others) or one for all. An object rather than a closure, so data-parallel ranks receive it
    with the stage (:class:`distillx.train.loop.TeacherFn`)."""

    def __init__(self, teachers: Mapping[str, torch.nn.Module], inputs: Mapping[str, EncodedSet], features: bool):
        self.teachers, self.inputs, self.features = dict(teachers), dict(inputs), features

    def __call__(self, rows: list[int], language: str | None, device: torch.device) -> dict[str, torch.Tensor]:
        if language is None and len({id(t) for t in self.teachers.values()}) > 1:
            raise DistillxError(
                "several teachers need batches of one language: set the stage's sampler to "
                "distillx.train.sampling.LanguageBatches"
            )
        key = language if language in self.teachers else "*"
        if key not in self.teachers:
            raise DistillxError(f"no teacher for language {language!r} (teachers: {', '.join(sorted(self.teachers))})")
        model = self.teachers[key].to(device).eval()
        batch = collate(self.inputs[key], rows, device)
        return model(**batch, features=True) if self.features else model(**batch)


def online_teacher(ctx, teachers: Teachers, examples: list[Example]) -> BatchTeacher:
    """The teachers run on each batch (for objectives that match features): ``(rows, language, device) ->
    outputs``. Each distinct teacher's encoding of ``examples`` is made once, here."""
    routes = as_map(teachers)
    encoded: dict[int, EncodedSet] = {}
    for teacher in routes.values():
        if id(teacher) not in encoded:
            encoded[id(teacher)] = ctx.encode(teacher, examples)
    return BatchTeacher(
        {code: t.model for code, t in routes.items()}, {code: encoded[id(t)] for code, t in routes.items()}, True
    )
