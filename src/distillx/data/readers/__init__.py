"""Readers of the cross-lingual benchmarks (and of your own data), one module each, all producing the
shared :class:`~distillx.data.schema.Example` schema with splits ``train``, ``dev`` and ``test``.

Each reader is built from ``conf/dataset/<name>.yaml`` and offers ``name``, ``languages``, ``parallel``,
``task``, ``load(language) -> Splits``, ``skipped`` / ``repaired`` (row counts by file and reason) and
``resegment`` (whether the pipeline should re-segment zh/ja/th words with
:func:`distillx.text.retag.resegment_examples`).
"""

from distillx.data.readers.conll import ConllDataset
from distillx.data.readers.custom import CustomDataset
from distillx.data.readers.massive import MassiveDataset
from distillx.data.readers.mtop import MtopDataset
from distillx.data.readers.multiatis import MultiAtisDataset
from distillx.data.readers.pawsx import PawsxDataset
from distillx.data.readers.wikiann import WikiannDataset
from distillx.data.readers.xnli import XnliDataset

__all__ = [
    "ConllDataset",
    "CustomDataset",
    "MassiveDataset",
    "MtopDataset",
    "MultiAtisDataset",
    "PawsxDataset",
    "WikiannDataset",
    "XnliDataset",
]
