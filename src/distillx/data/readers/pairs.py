"""Sentence-pair classification (XNLI, PAWS-X): only a labeled dev set per language, parallel by position.

A pair is one :class:`~distillx.data.schema.Example`: ``text`` the first sentence, ``text_pair`` the
second, ``intent`` the pair's label (the schema's sentence-label field), no words or slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from distillx.data.readers.base import BadRow, Lines, Reader, split_cells
from distillx.data.schema import Example, Splits
from distillx.errors import DistillxError


class SentencePairReader(Reader):
    """Reads ``dev-<lang>.tsv.gz`` (``first<TAB>second<TAB>label``) and cuts it by position into train,
    dev and test (``carve``: train and dev fractions, test the rest). The cut is the same in every
    language, so a translated pair never sits in train in one language and in test in another."""

    tasks = ("intent",)
    parallel = True
    labels: dict[str, str]
    """File label -> label used."""

    def __init__(
        self,
        path: str | None = None,
        task: str = "intent",
        on_error: str = "raise",
        carve: Sequence[float] = (0.6, 0.2),
    ) -> None:
        super().__init__(path, task, on_error, resegment=False)
        fractions = [float(f) for f in carve]
        if len(fractions) != 2 or min(fractions) <= 0 or sum(fractions) >= 1:
            raise DistillxError(f"dataset.carve={list(carve)}: give [train, dev] fractions > 0 that sum below 1")
        self.carve = (fractions[0], fractions[1])

    def read(self, language: str) -> Splits:
        pairs = self.parse_file(self.file(f"dev-{language}.tsv.gz"), partial(self._row, language))
        n_train = round(len(pairs) * self.carve[0])
        n_dev = round(len(pairs) * self.carve[1])
        return {
            "train": pairs[:n_train],
            "dev": pairs[n_train : n_train + n_dev],
            "test": pairs[n_train + n_dev :],
        }

    def _row(self, language: str, lines: Lines) -> Example:
        lineno, line = lines[0]
        cells = split_cells(line, 3, hint="(first, second, label)")
        first, second, label = cells
        if not first.strip() or not second.strip():
            raise BadRow("sentence1" if not first.strip() else "sentence2", "empty sentence")
        if label not in self.labels:
            raise BadRow("label", "unknown label", f"{label!r} is not one of {', '.join(self.labels)}")
        return Example(self.uid(language, "dev", lineno), language, first, self.labels[label], text_pair=second)
