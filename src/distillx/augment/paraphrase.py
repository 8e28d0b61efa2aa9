"""Paraphrases by sampled machine translation into the same language, through the run's translator
(freetransfer-x.md §2.3.2: M2M-100 with source = target language; Apertium round-trips through English)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from distillx.data.schema import Example

if TYPE_CHECKING:
    from distillx.context import RunContext

log = logging.getLogger(__name__)


class Paraphrase:
    """D_tgt + ``n`` sampled paraphrases of each utterance."""

    translates = True

    def __init__(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError(f"augmentation.n must be at least 1, got {n}")
        self.n = n

    def __call__(self, ctx: RunContext, examples: list[Example], language: str) -> list[Example]:
        paraphrases = ctx.translator.paraphrase(examples, language, self.n)
        ctx.segment(paraphrases, language)
        kept = [p for p in paraphrases if p.words]  # an empty sample has nothing to distil
        # A paraphrase in the same words as its input only weighs that input twice (a round trip often returns it).
        inputs = (ex for ex in examples for _ in range(self.n))
        changed = sum(
            (p.words, p.pair_words) != (ex.words, ex.pair_words)
            for p, ex in zip(paraphrases, inputs, strict=True)
            if p.words
        )
        log.info("%s: %d of %d paraphrases differ from their input", language, changed, len(kept))
        ctx.log_metrics(
            {f"data/{language}/paraphrases": float(len(kept)), f"data/{language}/paraphrases_changed": float(changed)}
        )
        return examples + kept
