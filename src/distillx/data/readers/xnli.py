"""XNLI (Conneau et al. 2018), XTREME copy: natural language inference, 15 languages, labeled dev only."""

from __future__ import annotations

from distillx.data.readers.pairs import SentencePairReader


class XnliDataset(SentencePairReader):
    """Premise/hypothesis pairs labeled entailment, neutral or contradiction. The German labeled test
    (``test-de.tsv.gz``) and the unlabeled tests are not read: train/dev/test are all cut from dev."""

    name = "xnli"
    title = "XNLI"
    languages = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
    labels = {label: label for label in ("entailment", "neutral", "contradiction")}
