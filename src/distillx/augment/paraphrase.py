"""Paraphrases by sampled machine translation into the same language, through the run's translator
(freetransfer-x.md §2.3.2: M2M-100 with source = target language)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distillx.data.schema import Example

if TYPE_CHECKING:
    from distillx.context import RunContext


class Paraphrase:
    """D_tgt + ``n`` sampled paraphrases of each utterance."""

    def __init__(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError(f"augmentation.n must be at least 1, got {n}")
        self.n = n

    def __call__(self, ctx: RunContext, examples: list[Example], language: str) -> list[Example]:
        paraphrases = ctx.translator.paraphrase(examples, language, self.n)
        ctx.segment(paraphrases, language)
        kept = [p for p in paraphrases if p.words]  # an empty sample has nothing to distil
        ctx.log_metrics({f"data/{language}/paraphrases": float(len(kept))})
        return examples + kept
