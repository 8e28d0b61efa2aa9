"""The annotated/unannotated halves of freetransfer-x.md §3.1: seeded; balanced by label only where labels may
be read (the source language), drawn blind elsewhere (a label-free method never looks at a target label)."""

from __future__ import annotations

import random
from collections import defaultdict

from distillx.data.schema import Example
from distillx.errors import DistillxError
from distillx.labels import reading_labels


def annotated_halves(
    examples: list[Example], fraction: float = 0.5, seed: int = 42, *, stratify: bool = False
) -> tuple[list[Example], list[Example]]:
    """Split into (annotated, unannotated) with ``fraction`` of the examples annotated.

    ``stratify`` keeps each intent's share the same in both halves, which reads every label: only for the
    language whose labels the source model is trained on. Otherwise the halves are a seeded random draw.
    Only the annotated half's labels are ever used (to simulate the off-the-shelf source model); the
    unannotated half is the unlabeled corpus of the KD stages."""
    if not 0.0 < fraction < 1.0:
        raise DistillxError(f"split.annotated_fraction must be in (0, 1), got {fraction}")
    groups: dict[str, list[int]] = defaultdict(list)
    if stratify:
        language = examples[0].language if examples else "?"
        with reading_labels(f"{language} train split into halves balanced by label"):
            for i, ex in enumerate(examples):
                groups[str(ex.intent)].append(i)
    else:
        groups["*"] = list(range(len(examples)))
    rng = random.Random(seed)
    chosen: set[int] = set()
    for label in sorted(groups):
        group = groups[label][:]
        rng.shuffle(group)
        chosen.update(group[: round(len(group) * fraction)])
    annotated = [ex for i, ex in enumerate(examples) if i in chosen]
    unannotated = [ex for i, ex in enumerate(examples) if i not in chosen]
    return annotated, unannotated
