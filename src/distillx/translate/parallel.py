"""Oracle "translation" from a parallel corpus: the dataset's own human translation of each utterance.

This is an upper bound for machine translation in language-balanced distillation (freetransfer-x.md §2.3.1),
not the paper's method: every log line and report must call it "oracle translation". It only works where the
same id names the same utterance in both languages (the readers' convention: parallel datasets share ids
across languages, the others prefix ids with the language).
"""

from __future__ import annotations

import logging
from typing import Any

from distillx.data.schema import Example
from distillx.errors import DistillxError
from distillx.translate.base import unlabelled

log = logging.getLogger(__name__)


class ParallelCorpusTranslator:
    """Looks each example up by id in the target language of ``dataset`` and returns that row, unlabelled.

    A dataset is usable when it says it is parallel (``parallel = True``; ``parallel_languages``, where a
    reader defines it, narrows this to the languages that are), or, when it does not, when its source and
    target ids overlap: MultiATIS++ is flagged non-parallel as a whole, yet en de es fr ja pt zh share ids,
    while hi and tr (another corpus) have ids of their own, so they share none and are refused.
    """

    name = "parallel-corpus (oracle)"
    oracle = True

    def __init__(self, dataset: Any) -> None:
        if not hasattr(dataset, "load"):
            raise DistillxError(
                f"translator.dataset is a {type(dataset).__name__}, not a dataset reader; "
                "use translator=parallel, which passes the run's dataset"
            )
        self.dataset = dataset
        self.title = getattr(dataset, "title", None) or getattr(dataset, "name", type(dataset).__name__)
        self._index: dict[str, dict[str, Example]] = {}
        self._checked: set[tuple[str, str]] = set()
        self._warned = False

    def index(self, language: str) -> dict[str, Example]:
        """``language``'s examples of every split by id, built once (MASSIVE's test split repeats dev)."""
        if language not in self._index:
            by_id: dict[str, Example] = {}
            for examples in self.dataset.load(language).values():
                for ex in examples:
                    by_id.setdefault(ex.id, ex)
            self._index[language] = by_id
        return self._index[language]

    def check(self, source: str, target: str) -> None:
        """Refuse a language pair whose ids do not name the same utterances."""
        if (source, target) in self._checked:
            return
        languages = getattr(self.dataset, "languages", None)
        for lang in (source, target):
            if languages is not None and lang not in languages:
                raise DistillxError(
                    f"oracle translation: {self.title} has no {lang!r} (it has {', '.join(languages)}); "
                    "choose another language or translator=m2m100"
                )
        covered = getattr(self.dataset, "parallel_languages", None)
        if covered is not None:
            outside = [lang for lang in (source, target) if lang not in covered]
            if outside:
                raise DistillxError(
                    f"oracle translation: {self.title} is parallel only across {', '.join(covered)}, not "
                    f"{', '.join(outside)}; use a machine translator (translator=m2m100) for it"
                )
        elif not getattr(self.dataset, "parallel", False):
            shared = self.index(source).keys() & self.index(target).keys()
            if not shared:
                raise DistillxError(
                    f"oracle translation: {self.title} is not parallel between {source} and {target} (no id "
                    "names the same utterance in both); use a machine translator (translator=m2m100) instead"
                )
            log.warning(
                "oracle translation: %s is not flagged parallel; %s and %s share %d ids, taken as translations",
                self.title,
                source,
                target,
                len(shared),
            )
        self._checked.add((source, target))

    def translate(self, examples: list[Example], source: str, target: str) -> list[Example]:
        """The target-language row with each example's id, stripped of labels and words."""
        self.check(source, target)
        if not self._warned:
            log.warning(
                "oracle translation: %s's human translations stand in for machine translation; results are an "
                "upper bound, not the paper's MT setting",
                self.title,
            )
            self._warned = True
        wrong = [ex.id for ex in examples if ex.language != source]
        if wrong:
            raise DistillxError(
                f"oracle translation: {len(wrong)} examples (first id {wrong[0]!r}) are not in the source "
                f"language {source!r}; translate each language's examples separately"
            )
        rows = self.index(target)
        missing = [ex.id for ex in examples if ex.id not in rows]
        if missing:
            raise DistillxError(
                f"oracle translation: {len(missing)} of {len(examples)} {source} examples have no aligned {target} "
                f"row in {self.title} (first id {missing[0]!r}); use a machine translator (translator=m2m100)"
            )
        return [unlabelled(ex, target, rows[ex.id].text, rows[ex.id].text_pair) for ex in examples]

    def paraphrase(self, examples: list[Example], language: str, n: int) -> list[Example]:
        """A parallel corpus holds one rendering per language: there is nothing to sample paraphrases from."""
        raise DistillxError(
            "oracle translation (translator=parallel) cannot paraphrase: a parallel corpus has one rendering per "
            "language; use translator=m2m100 for paraphrase augmentation"
        )
