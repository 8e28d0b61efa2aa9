"""The label space of a run: its heads, label vocabularies, gold targets and scoring references, and the one
gate every read of a gold label goes through.

Label-free methods promise that no gold label is read after the source model: every place that reads
``Example.intent`` / ``Example.slots`` on purpose says why with :func:`reading_labels`, so that an audit (the
tests' spy on the ``Example`` class) can tell a declared read (the source model's training, test scoring, the
preprocessing of files) from a label leaking into a label-free stage."""

from __future__ import annotations

import contextvars
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from distillx.data.schema import Example, LabelVocab
from distillx.report.scores import Decoded, decode
from distillx.train.batching import Target

log = logging.getLogger(__name__)

HEADS = {"intent": ("intent",), "slots": ("slots",), "both": ("intent", "slots")}
"""The heads of every model for each ``dataset.task``."""

_PURPOSE: contextvars.ContextVar[str | None] = contextvars.ContextVar("label_purpose", default=None)


@contextmanager
def reading_labels(purpose: str) -> Iterator[None]:
    """Declare why the code inside reads gold labels (e.g. ``source_model train``, ``de test``)."""
    token = _PURPOSE.set(purpose)
    try:
        yield
    finally:
        _PURPOSE.reset(token)


def label_purpose() -> str | None:
    """The declared purpose of a label read happening now (None: undeclared)."""
    return _PURPOSE.get()


@dataclass(frozen=True)
class LabelSpace:
    """Intent labels and/or word-level BIO tags, both from the source language's training data: the label set of
    the source model, which every model of the run shares."""

    heads: tuple[str, ...]
    intents: LabelVocab | None
    slots: LabelVocab | None

    @classmethod
    def from_source(cls, task: str, source_train: Sequence[Example]) -> LabelSpace:
        heads = HEADS[task]
        with reading_labels("label set of the source model"):
            intents = (
                LabelVocab.build(ex.intent for ex in source_train if ex.intent is not None)
                if "intent" in heads
                else None
            )
            slots = None
            if "slots" in heads:
                tags = {tag for ex in source_train for tag in ex.slots or ()} - {"O"}
                slots = LabelVocab(("O", *sorted(tags)))
        return cls(heads, intents, slots)

    @property
    def sizes(self) -> dict[str, int]:
        """Output size of each head (what a model's classifiers are built with)."""
        return {
            "num_intents": len(self.intents) if self.intents is not None else 0,
            "num_slots": len(self.slots) if self.slots is not None else 0,
        }

    def describe(self) -> dict[str, list[str]]:
        """The label vocabularies, for stage keys: a model's outputs mean nothing without them."""
        return {head: list(vocab.labels) for head, vocab in (("intent", self.intents), ("slots", self.slots)) if vocab}

    def gold(self, examples: Sequence[Example], where: str) -> dict[str, Target]:
        """Label ids for training on gold labels, per head: every label must be known."""
        targets: dict[str, Target] = {}
        with reading_labels(where):
            if self.intents is not None:
                ids = self.intents.encode([str(ex.intent) for ex in examples], where=where)
                targets["intent"] = torch.tensor(ids, dtype=torch.long)
            if self.slots is not None:
                targets["slots"] = [
                    torch.tensor(self.slots.encode(ex.slots or ["O"] * len(ex.words), where=where), dtype=torch.long)
                    for ex in examples
                ]
        return targets

    def reference(self, examples: Sequence[Example], where: str) -> dict[str, list]:
        """Gold labels for scoring (``score(..., **reference)``). A test label the source model never saw can
        never be predicted: it counts as an error, as it would for any user of that model, and is reported."""
        ref: dict[str, list] = {}
        with reading_labels(where):
            if self.intents is not None:
                ref["intents"] = [ex.intent for ex in examples]
                unknown = Counter(str(i) for i in ref["intents"] if i not in self.intents.ids)
                if unknown:
                    log.warning(
                        "%s: %d examples have labels the source model does not know: %s",
                        where,
                        sum(unknown.values()),
                        dict(unknown),
                    )
            if self.slots is not None:
                ref["slots"] = [ex.slots or ["O"] * len(ex.words) for ex in examples]
        return ref

    def decode(self, outputs: dict[str, Target]) -> Decoded:
        return decode(outputs, self.intents, self.slots)
