"""One run's pieces, built from the composed config and wired together: the data pipeline, the label space, the
model factory, the stage store, the trainer, the translator and the tracker. Methods compose steps over this
object; each piece does one job and reads only its own part of the config."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from distillx.data.cache import cached_encoding, encoding_key
from distillx.data.pipeline import DataPipeline
from distillx.data.schema import Example
from distillx.distill.teachers import examples_digest
from distillx.errors import DistillxError
from distillx.labels import LabelSpace
from distillx.models.factory import ModelFactory, TaskModel
from distillx.store import StageStore
from distillx.text.align import encode_words
from distillx.track.inputs import SplitInput
from distillx.train.batching import EncodedSet
from distillx.train.loop import Trainer
from distillx.translate import Translator

NOT_IN_KEYS = ("progress", "threads", "max_nonfinite_steps", "dist_timeout_s")
"""Trainer options that change how a run looks or how fast it goes, not what it computes."""


class RunContext:
    def __init__(self, cfg: DictConfig, output_dir: Path, tracker: Any) -> None:
        self.cfg = cfg
        self.output_dir = Path(output_dir)
        self.tracker = tracker
        self.trainer: Trainer = instantiate(cfg.trainer)
        trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
        self.trainer_key = {k: v for k, v in trainer_cfg.items() if k not in NOT_IN_KEYS}
        """The trainer's settings that decide a stage's result: part of every trained stage's key."""
        reader = instantiate(cfg.dataset)
        self.augmentation = instantiate(cfg.augmentation)
        self.source: str = cfg.source.code
        self.target: str = cfg.language.code
        for role, code in (("language@source", self.source), ("language", self.target)):
            if code not in reader.languages:
                raise DistillxError(
                    f"{role}={code}: dataset {reader.name} has no {code!r}; choose one of {', '.join(reader.languages)}"
                )
        languages = {
            **(cfg.get("languages") or {}),  # the catalog (conf/languages/all.yaml)
            **(cfg.mplm.get("languages") or {}),
            self.source: cfg.source,
            self.target: cfg.language,
        }
        cache_dir = Path(cfg.cache_dir).expanduser()
        self.data = DataPipeline(
            reader,
            OmegaConf.to_container(cfg.dataset, resolve=True),  # type: ignore[arg-type]
            languages,
            lambda code: instantiate(languages[code].segmenter),
            source=self.source,
            limit=cfg.split.get("limit"),
            annotated_fraction=cfg.split.annotated_fraction,
            split_seed=cfg.split.seed,
            cache_root=cache_dir / "preprocess" if cfg.preprocess_cache else None,
            log_metrics=self.log_metrics,
            on_read=self._log_input,
        )
        self.store = StageStore(self.output_dir, cache_dir / "stages" if cfg.share_stages else None)
        self._vocab_root = cache_dir / "vocab" if cfg.share_stages else self.output_dir / "vocab-store"
        self.lean_root = cache_dir / "lean" if cfg.share_stages else self.output_dir / "lean-store"
        self._encoding_root = cache_dir / "preprocess" if cfg.preprocess_cache else None

    def trainer_with(self, options: Mapping[str, Any] | None) -> tuple[Trainer, dict[str, Any]]:
        """A trainer with ``options`` replacing the run's settings (a stage's own epochs or batch size, as the
        papers set them per stage), and its part of the stage key; the run's own without options."""
        if not options:
            return self.trainer, self.trainer_key
        options = OmegaConf.to_container(options, resolve=True) if isinstance(options, DictConfig) else dict(options)
        trainer = instantiate(self.cfg.trainer, **options)
        return trainer, {**self.trainer_key, **{k: v for k, v in options.items() if k not in NOT_IN_KEYS}}

    @cached_property
    def labels(self) -> LabelSpace:
        """The source model's label set, from the source language's training data."""
        return LabelSpace.from_source(self.data.task, self.data.split(self.source, "train"))

    @cached_property
    def models(self) -> ModelFactory:
        cfg = self.cfg
        return ModelFactory(
            {"teacher": cfg.teacher, "student": cfg.student, "mplm": cfg.mplm},
            cfg.vocab,
            self.labels,
            max_length=cfg.max_length,
            seed=cfg.seed,
            vocab_root=self._vocab_root,
            run_vocab_dir=self.output_dir / "vocab",
            train_words=lambda lang: [ex.words for ex in self.data.split(lang, "train")],
            mplm_corpus=self._mplm_corpus,
            pivot=self.source,
            bases={"lean": lambda: self.lean_path},
        )

    @cached_property
    def lean_path(self) -> Path:
        """The small encoder built from the mPLM (``lean`` config), built or distilled on first use."""
        from distillx.distill.pretraining import lean_encoder  # a method-level stage; imports this module

        return lean_encoder(self)

    def _mplm_corpus(self, languages: list[str]) -> dict[str, dict[str, list[str]]]:
        """The unlabeled train text of the languages the demo mPLM is pre-trained on (those the dataset has)."""
        present = [lang for lang in languages if lang in self.data.reader.languages]
        return {lang: {ex.id: ex.words for ex in self.data.split(lang, "train")} for lang in present}

    def encode(self, task_model: TaskModel, examples: list[Example]) -> EncodedSet:
        """Sub-word ids, word positions and languages of ``examples`` for ``task_model`` (cached as Arrow)."""
        words = [ex.words for ex in examples]
        pairs = [ex.pair_words for ex in examples] if any(ex.text_pair is not None for ex in examples) else None
        tokenizer, max_length = task_model.tokenizer, task_model.max_length

        def build() -> dict[str, list[list[int]]]:
            return encode_words(tokenizer, words, max_length, pairs)

        if self._encoding_root is not None:
            key = encoding_key(tokenizer=tokenizer, max_length=max_length, word_lists=words, pair_lists=pairs)
            enc = cached_encoding(self._encoding_root, key, build)
        else:
            enc = build()
        pad = tokenizer.pad_token_id or 0
        return EncodedSet(enc["input_ids"], pad, enc["word_index"], languages=[ex.language for ex in examples])

    def segment(self, examples: list[Example], language: str) -> None:
        """Segment new utterances (translations, paraphrases) of ``language``, logging alignment counts."""
        counts = self.data.segment(examples, language)
        if counts:
            self.log_metrics({f"data/{language}/new_{k}": float(v) for k, v in counts.items()})

    @cached_property
    def translator(self) -> Translator:
        """The MT system of the methods that translate (``translator`` group); the parallel-corpus one gets
        this run's dataset. Oracle translation is announced in the log and tagged on the run."""
        spec = self.cfg.get("translator")
        if spec is None:
            raise DistillxError("this method translates: choose translator=parallel|apertium|m2m100|tiny_m2m100")
        translator = instantiate(spec, dataset=self.data.reader) if "dataset" in spec else instantiate(spec)
        self.tracker.set_tags(
            {"distillx.translator": translator.name, "distillx.oracle_translation": translator.oracle}
        )
        return translator

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.tracker.log_metrics(metrics, step=step)

    def _log_input(self, language: str, split: str, examples: list[Example]) -> None:
        """Record a split on the run as an MLflow dataset input when the run first reads it."""
        reader = self.data.reader
        digest = examples_digest(examples)
        self.tracker.log_inputs([SplitInput(reader.name, language, split, digest, len(examples), str(reader.root))])
