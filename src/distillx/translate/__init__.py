"""Translators (freetransfer-x.md §2.3), chosen by ``conf/translator/``: machine translation of the unlabeled
English corpus for language-balanced distillation (§2.3.1) and same-language paraphrases for language-specific
augmentation (§2.3.2).

- :class:`Seq2SeqTranslator`: an M2M-100-style model (the paper's facebook/m2m100_418M, or any local one);
- :class:`ApertiumTranslator`: the rule-based Apertium engine (Debian packages, offline), paraphrasing by round trip;
- :class:`ParallelCorpusTranslator`: the dataset's own human translations, an *oracle* (label it so);
- :class:`TinyM2M100Builder`: a tiny random M2M-100 for offline plumbing tests (random output).
"""

from distillx.translate.apertium import ApertiumTranslator
from distillx.translate.base import Translator
from distillx.translate.parallel import ParallelCorpusTranslator
from distillx.translate.seq2seq import Seq2SeqTranslator
from distillx.translate.tiny_m2m100 import TinyM2M100Builder

__all__ = ["ApertiumTranslator", "ParallelCorpusTranslator", "Seq2SeqTranslator", "TinyM2M100Builder", "Translator"]
