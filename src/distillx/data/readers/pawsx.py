"""PAWS-X (Yang et al. 2019), XTREME copy: paraphrase identification, 7 languages, labeled dev only."""

from __future__ import annotations

from distillx.data.readers.pairs import SentencePairReader


class PawsxDataset(SentencePairReader):
    """Sentence pairs labeled ``1`` (paraphrase) or ``0``, read as ``paraphrase`` / ``not_paraphrase``.
    The de/zh labeled tests and the unlabeled tests are not read: train/dev/test are all cut from dev."""

    name = "pawsx"
    title = "PAWS-X"
    languages = ("de", "en", "es", "fr", "ja", "ko", "zh")
    labels = {"1": "paraphrase", "0": "not_paraphrase"}
