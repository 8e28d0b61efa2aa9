"""The annotated/unannotated halves of freetransfer-x.md §3.1: seeded, balanced by label."""

from __future__ import annotations

import random
from collections import defaultdict

from distillx.data.schema import Example


def annotated_halves(
    examples: list[Example], fraction: float = 0.5, seed: int = 42
) -> tuple[list[Example], list[Example]]:
    """Split into (annotated, unannotated) so that each label keeps the same share in both halves.

    Only the annotated half's labels are ever used (to simulate the off-the-shelf source model); the
    unannotated half is the unlabeled corpus of the KD stages."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split.annotated_fraction must be in (0, 1), got {fraction}")
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        by_label[str(ex.intent)].append(i)
    rng = random.Random(seed)
    chosen: set[int] = set()
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        chosen.update(group[: round(len(group) * fraction)])
    annotated = [ex for i, ex in enumerate(examples) if i in chosen]
    unannotated = [ex for i, ex in enumerate(examples) if i not in chosen]
    return annotated, unannotated
