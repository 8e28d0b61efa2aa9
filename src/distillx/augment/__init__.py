"""Language-specific augmentation of the target-language unlabeled corpus (freetransfer-x.md §2.3.2)."""

from __future__ import annotations

from distillx.data.schema import Example


class NoAugmentation:
    """The unaugmented corpus: D_tgt as it is."""

    def __call__(self, examples: list[Example]) -> list[Example]:
        return examples
