"""Language-specific augmentation of the target-language unlabeled corpus (freetransfer-x.md §2.3.2): each
option returns the mixture D_tgt + D_para that KD step 2 trains on. Augmented utterances carry no labels;
the teacher labels them with its own distribution like every other KD utterance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distillx.augment.mlm_replace import MLMReplacement
from distillx.augment.paraphrase import Paraphrase
from distillx.data.schema import Example

if TYPE_CHECKING:
    from distillx.context import RunContext

__all__ = ["MLMReplacement", "NoAugmentation", "Paraphrase"]


class NoAugmentation:
    """The unaugmented corpus: D_tgt as it is."""

    def __call__(self, ctx: RunContext, examples: list[Example], language: str) -> list[Example]:
        return examples
