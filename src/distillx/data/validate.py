"""Checks across splits that no single row can make: labels to predict that training never showed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from distillx.data.schema import Example, Splits
from distillx.errors import DistillxError


def labels_of(examples: Iterable[Example]) -> Counter[str]:
    """Sentence labels (``intent``) and slot types (the ``x`` of ``B-x``, or span labels), with counts."""
    counts: Counter[str] = Counter()
    for ex in examples:
        if ex.intent is not None:
            counts[f"intent {ex.intent}"] += 1
        if ex.slots is not None:
            counts.update(f"slot {tag[2:]}" for tag in ex.slots if tag.startswith("B-"))
        else:
            counts.update(f"slot {span.label}" for span in ex.spans)
    return counts


def check_labels(splits: Splits, where: str, reference: Splits | None = None) -> None:
    """Fail with one line when a dev/test label never occurs in training data.

    ``reference`` gives the training data (its ``train`` split) when that is another language's, as in
    cross-lingual transfer, where the model knows only the source language's labels. A model cannot
    predict a class it was never trained on; counting it silently wrong would bias every score.
    """
    known = labels_of((reference or splits).get("train", []))
    for split in ("dev", "test"):
        unseen = Counter({label: n for label, n in labels_of(splits.get(split, [])).items() if label not in known})
        if unseen:
            shown = ", ".join(f"{label!r} ({n})" for label, n in unseen.most_common(5))
            more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
            raise DistillxError(
                f"{where}: {split} has labels never seen in the training data: {shown}{more}; "
                "drop those examples or add such examples to the training data"
            )
