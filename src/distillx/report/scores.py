"""From model outputs to labels, and from labels to the papers' metrics: intent accuracy, entity-level slot F1
(seqeval, conlleval rules) and exact match. The same functions score a model against gold labels (test) and
a student against its teacher's predictions (label-free checkpoint selection)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from seqeval.metrics import f1_score
from seqeval.metrics.sequence_labeling import get_entities

from distillx.data.schema import LabelVocab


@dataclass
class Decoded:
    """Predicted labels per utterance: intent names and/or one BIO tag per word (``O`` for truncated words)."""

    intents: list[str] | None = None
    slots: list[list[str]] | None = None


def decode(outputs: Mapping[str, object], intents: LabelVocab | None, slots: LabelVocab | None) -> Decoded:
    decoded = Decoded()
    if "intent" in outputs and intents is not None:
        logits = outputs["intent"]
        assert isinstance(logits, torch.Tensor)
        decoded.intents = [intents.labels[i] for i in logits.argmax(-1).tolist()]
    if "slots" in outputs and slots is not None:
        decoded.slots = [
            [slots.labels[t] if seen else "O" for t, seen in zip(row.argmax(-1).tolist(), mask.tolist(), strict=True)]
            for row, mask in zip(outputs["slots"], outputs["word_mask"], strict=True)  # type: ignore[call-overload]
        ]
    return decoded


def score(
    predicted: Decoded, intents: Sequence[str | None] | None = None, slots: Sequence[Sequence[str]] | None = None
) -> dict[str, float]:
    """``accuracy`` (intent), ``slot_f1`` (entity level) and, when slots are scored, ``exact_match`` (every tag
    right, and the intent too when it is predicted): each metric whose reference is given. With them, what tells a
    collapsed model from one that learnt (:data:`distillx.report.results.DIAGNOSTICS`): ``majority`` (the share
    of the reference's commonest intent, what answering it always scores) and ``predicted_entities`` (how many
    entities the predicted tags hold)."""
    out: dict[str, float] = {}
    n = len(intents if intents is not None else slots or [])
    correct = [True] * n
    if intents is not None and predicted.intents is not None:
        hits = [p == g for p, g in zip(predicted.intents, intents, strict=True)]
        out["accuracy"] = sum(hits) / max(1, n)
        out["majority"] = max(Counter(intents).values()) / n if n else 0.0
        correct = [c and h for c, h in zip(correct, hits, strict=True)]
    if slots is not None and predicted.slots is not None:
        gold = [list(tags) for tags in slots]
        out["slot_f1"] = float(f1_score(gold, predicted.slots, zero_division=0)) if n else 0.0
        correct = [c and p == g for c, p, g in zip(correct, predicted.slots, gold, strict=True)]
        out["exact_match"] = sum(correct) / max(1, n)
        out["predicted_entities"] = float(len(get_entities(predicted.slots)))
    return out


def headline(metrics: Mapping[str, float]) -> float:
    """One number to select checkpoints by: the mean of the metrics present (accuracy and/or slot F1)."""
    values = [metrics[k] for k in ("accuracy", "slot_f1") if k in metrics]
    return sum(values) / len(values) if values else 0.0
