"""From data files to segmented examples: read, slice, segment, re-tag, cache. The one copy of these steps:
runs and ``benchmarks/preprocess.py`` both call :func:`prepare_language` / :func:`load_language`."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from distillx.data.cache import Counts, cached_splits, splits_key
from distillx.data.schema import Example, Splits
from distillx.data.splits import annotated_halves
from distillx.errors import DistillxError
from distillx.labels import reading_labels
from distillx.text.retag import UNSPACED, resegment_examples
from distillx.text.segment import spans_to_bio

log = logging.getLogger(__name__)

Segmenter = Callable[[str], list[str]]

PREPARING = "reading and preprocessing the data files"
"""The declared purpose of label reads while files are parsed, re-tagged and cached (not a use of the labels)."""


def segment_examples(examples: list[Example], segment: Segmenter, task: str) -> Counter[str]:
    """Fill in the words of examples that have none (read from raw text, translated, paraphrased), the second
    sentence's words on pair tasks, and word-level BIO tags from character spans on slot tasks; returns
    alignment counts."""
    counts: Counter[str] = Counter()
    for ex in examples:
        if ex.text_pair is not None and not ex.pair_words:
            ex.pair_words = segment(ex.text_pair)
        if ex.words:
            continue
        ex.words = segment(ex.text)
        if ex.spans and task != "intent":
            alignment = spans_to_bio(ex.text, ex.words, ex.spans)
            ex.slots = alignment.tags
            counts.update(spans=len(ex.spans), inexact=alignment.inexact, unaligned=alignment.unaligned)
    return counts


def prepare_language(reader: Any, language: str, segment: Segmenter, limit: int | None = None) -> tuple[Splits, Counts]:
    """All splits of ``language``: read, cut to the first ``limit`` examples, in words of ``segment``.

    Pre-tokenised zh/ja/th data is re-segmented (slot tags carried over) when the reader asks for it; raw text
    is segmented, and character-level slot spans become word-level BIO tags. Returns the counts to log: what
    could not be aligned, and what the reader skipped or repaired."""
    with reading_labels(PREPARING):
        splits = reader.load(language)
        if limit:
            splits = {name: examples[:limit] for name, examples in splits.items()}
        counts: Counter[str] = Counter()
        resegment = getattr(reader, "resegment", False) and language in UNSPACED
        for examples in splits.values():
            if resegment and any(ex.words for ex in examples):
                counts.update(resegment_examples(examples, segment))
            counts.update(segment_examples(examples, segment, reader.task))
    metrics = {f"data/{language}/{k}": float(v) for k, v in counts.items()}
    metrics |= {f"data/{language}/{split}_examples": float(len(e)) for split, e in splits.items()}
    for kind in ("skipped", "repaired"):  # the reader's running counts over the files read so far
        metrics |= {f"data/{kind}/{key}": float(n) for key, n in getattr(reader, kind, {}).items()}
    return splits, metrics


def load_language(
    reader: Any,
    language: str,
    segment: Segmenter,
    *,
    dataset_cfg: Mapping[str, Any],
    segmenter_cfg: Mapping[str, Any],
    limit: int | None = None,
    cache_root: Path | None = None,
) -> tuple[Splits, Counts]:
    """:func:`prepare_language`, read from the Arrow cache under ``cache_root`` when it holds the result (keyed by
    the data files, reader and segmenter configs, the limit and the code; see :mod:`distillx.data.cache`)."""
    if cache_root is None:
        return prepare_language(reader, language, segment, limit)
    key = splits_key(
        dataset={**dataset_cfg, "limit": limit}, language=language, segmenter=dict(segmenter_cfg), files=[reader.root]
    )
    with reading_labels(PREPARING):  # the cache stores every column, labels included
        return cached_splits(cache_root, key, lambda: prepare_language(reader, language, segment, limit))


class DataPipeline:
    """The run's examples: each language's splits (loaded once), its segmenter, and the train split's halves.

    ``on_read(language, split, examples)`` is told of each split once, when it is first read (the run records
    the splits it read as its dataset inputs)."""

    def __init__(
        self,
        reader: Any,
        dataset_cfg: Mapping[str, Any],
        languages: Mapping[str, Mapping[str, Any]],
        segmenters: Callable[[str], Segmenter],
        *,
        source: str,
        limit: int | None,
        annotated_fraction: float,
        split_seed: int,
        cache_root: Path | None,
        log_metrics: Callable[[dict[str, float]], None],
        on_read: Callable[[str, str, list[Example]], None] | None = None,
    ) -> None:
        self.reader = reader
        self.dataset_cfg = dict(dataset_cfg)
        self.languages = languages
        self._segmenter_factory = segmenters
        self.source = source
        self.limit = limit
        self.annotated_fraction = annotated_fraction
        self.split_seed = split_seed
        self.cache_root = cache_root
        self.log_metrics = log_metrics
        self.on_read = on_read
        self._segmenters: dict[str, Segmenter] = {}
        self._splits: dict[str, Splits] = {}
        self._read: set[tuple[str, str]] = set()

    @property
    def task(self) -> str:
        return self.reader.task

    def segmenter(self, language: str) -> Segmenter:
        if language not in self._segmenters:
            self._segmenters[language] = self._segmenter_factory(language)
        return self._segmenters[language]

    def splits(self, language: str) -> Splits:
        if language not in self._splits:
            spec = self.languages.get(language)
            if spec is None:
                raise DistillxError(f"no language config for {language!r}: add language/{language}.yaml")
            splits, metrics = load_language(
                self.reader,
                language,
                self.segmenter(language),
                dataset_cfg=self.dataset_cfg,
                segmenter_cfg=spec["segmenter"],
                limit=self.limit,
                cache_root=self.cache_root,
            )
            self._splits[language] = splits
            self.log_metrics(metrics)
            if metrics.get(f"data/{language}/unaligned"):
                log.warning(
                    "%s: %d of %d slot spans could not be aligned to words",
                    language,
                    metrics[f"data/{language}/unaligned"],
                    metrics[f"data/{language}/spans"],
                )
        return self._splits[language]

    def split(self, language: str, name: str) -> list[Example]:
        splits = self.splits(language)
        if name not in splits:
            raise DistillxError(
                f"dataset {self.reader.name}, language {language}: no {name!r} split (has {', '.join(splits)})"
            )
        if self.on_read is not None and (language, name) not in self._read:
            self._read.add((language, name))
            self.on_read(language, name, splits[name])
        return splits[name]

    def halves(self, language: str) -> tuple[list[Example], list[Example]]:
        """(annotated, unannotated) halves of the train split (freetransfer-x.md §3.1), balanced by label in the
        source language only: a target language's labels are never read to draw them.

        A half a stage reads must have examples: the source model trains on the source's annotated half, the KD
        stages on a language's unannotated half (a target's annotated half is never read). An empty one stops the
        run here, naming its cause, not minutes later inside the stage that cannot be fed."""
        train = self.split(language, "train")
        where = f"dataset {self.reader.name}, {language} train"
        if not train:
            raise DistillxError(f"{where}: no examples; add {language} train data or choose another language")
        annotated, unannotated = annotated_halves(
            train, self.annotated_fraction, self.split_seed, stratify=language == self.source
        )
        more = f"raise split.limit (now {self.limit})" if self.limit else "add data"
        needed = [("annotated", annotated, "raise")] if language == self.source else []
        for name, half, change in [*needed, ("unannotated", unannotated, "lower")]:
            if not half:
                raise DistillxError(
                    f"{where}: the {name} half is empty ({len(train)} examples, split.annotated_fraction="
                    f"{self.annotated_fraction}); {change} split.annotated_fraction or {more}"
                )
        return annotated, unannotated

    def segment(self, examples: list[Example], language: str) -> Counter[str]:
        """Segment new examples (translations, paraphrases) of ``language`` like the dataset's own."""
        return segment_examples(examples, self.segmenter(language), self.task)

    def test_is_dev(self, language: str) -> bool:
        """True where the dataset has no test split for ``language`` and its dev set is scored as test."""
        return bool(getattr(self.reader, "test_is_dev", lambda _: False)(language))
