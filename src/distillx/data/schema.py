"""The one example schema every reader produces, and the label vocabularies shared across languages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from distillx.errors import DistillxError


@dataclass(frozen=True)
class Span:
    """A labelled character span ``text[start:end]`` (slot value or entity)."""

    start: int
    end: int
    label: str


@dataclass
class Example:
    """One utterance. ``words`` is filled by a segmenter; ``slots`` are word-level BIO tags aligned to it."""

    id: str
    language: str
    text: str
    intent: str | None = None
    spans: tuple[Span, ...] = ()
    words: list[str] = field(default_factory=list)
    slots: list[str] | None = None
    text_pair: str | None = None
    """Second sentence of a sentence-pair task (XNLI hypothesis, PAWS-X sentence2); ``intent`` is its label."""
    pair_words: list[str] = field(default_factory=list)
    """``text_pair`` in words, filled by the segmenter like ``words``; models read both sentences."""


@dataclass(frozen=True)
class LabelVocab:
    """An ordered label set shared by every language of a dataset (index = class id)."""

    labels: tuple[str, ...]

    @classmethod
    def build(cls, labels: Iterable[str]) -> LabelVocab:
        return cls(tuple(sorted(set(labels))))

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, label: str, *, where: str = "") -> int:
        try:
            return self.ids[label]
        except KeyError:
            loc = f" in {where}" if where else ""
            raise DistillxError(
                f"unknown label {label!r}{loc}: it is not among the {len(self.labels)} labels seen in the "
                "training data; fix the file or make the label sets agree"
            ) from None

    def encode(self, labels: Sequence[str], *, where: str = "") -> list[int]:
        return [self.index(label, where=where) for label in labels]

    @cached_property
    def ids(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


Splits = dict[str, list[Example]]
"""Examples of one language by split name (``train``, ``dev``, ``test``)."""
