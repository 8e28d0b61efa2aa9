"""Everything a method needs from one run, built lazily from the composed config: segmented data per
language, label vocabulary, tokenizers, models, the trainer, and the tracker. Methods compose stages
over this object instead of reading the config themselves."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from transformers import PreTrainedTokenizerBase

from distillx.data.cache import cached_encoding, cached_splits, encoding_key, splits_key
from distillx.data.schema import Example, LabelVocab, Splits
from distillx.data.splits import annotated_halves
from distillx.errors import DistillxError
from distillx.models.heads import TaskHeads
from distillx.models.mplm import load_tokenizer
from distillx.text.align import encode_words
from distillx.text.retag import UNSPACED, resegment_examples
from distillx.text.segment import spans_to_bio
from distillx.text.vocab import load_vocab, save_vocab
from distillx.train.batching import EncodedSet, Target
from distillx.train.checkpoint import atomic_write_json
from distillx.train.loop import Trainer
from distillx.translate import Translator

log = logging.getLogger(__name__)


@dataclass
class TaskModel:
    """A model together with the tokenizer its inputs must be encoded with."""

    role: str
    """``teacher``, ``mplm`` or ``student``: the key of its metrics."""
    arch: str
    """What it is, for people: ``transformer``, ``bilstm``, ``cnn``, or the mPLM's name."""
    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    max_length: int


class RunContext:
    def __init__(self, cfg: DictConfig, output_dir: Path, tracker: Any) -> None:
        self.cfg = cfg
        self.output_dir = Path(output_dir)
        self.tracker = tracker
        self.trainer: Trainer = instantiate(cfg.trainer)
        self.dataset = instantiate(cfg.dataset)
        self.augmentation = instantiate(cfg.augmentation)
        self.source: str = cfg.source.code
        self.target: str = cfg.language.code
        for role, code in (("language@source", self.source), ("language", self.target)):
            if code not in self.dataset.languages:
                raise DistillxError(
                    f"{role}={code}: dataset {self.dataset.name} has no {code!r}; "
                    f"choose one of {', '.join(self.dataset.languages)}"
                )
        self._splits: dict[str, Splits] = {}
        self._segmenters = {
            self.source: instantiate(cfg.source.segmenter),
            self.target: instantiate(cfg.language.segmenter),
        }

    # ------------------------------------------------------------------ data
    def segmenter(self, language: str) -> Any:
        """The word segmenter of ``language`` (source, target, or one the mPLM is pre-trained on)."""
        if language not in self._segmenters:
            self._segmenters[language] = instantiate(self._language_cfg(language).segmenter)
        return self._segmenters[language]

    def _language_cfg(self, language: str) -> DictConfig:
        if language == self.source:
            return self.cfg.source
        if language == self.target:
            return self.cfg.language
        spec = (self.cfg.mplm.get("languages") or {}).get(language)
        if spec is None:
            raise DistillxError(f"no language config for {language!r}: add language/{language}.yaml")
        return spec

    def splits(self, language: str) -> Splits:
        """All splits of ``language``, in words of that language's segmenter.

        Pre-tokenised zh/ja/th data is re-segmented (slot tags carried over) when the dataset asks for it;
        raw text is segmented, and character-level slot spans become word-level BIO tags. What could not be
        aligned, and what the reader skipped or repaired, is counted and logged. The result is cached
        (Arrow, under ``cache_dir/preprocess``) keyed by the data files, reader and segmenter configs and
        code: a second run of the same config reads it instead of segmenting again."""
        if language not in self._splits:
            if self.cfg.preprocess_cache:
                dataset = OmegaConf.to_container(self.cfg.dataset, resolve=True)
                key = splits_key(
                    dataset={**dataset, "limit": self.cfg.split.get("limit")},  # type: ignore[dict-item]
                    language=language,
                    segmenter=OmegaConf.to_container(self._language_cfg(language).segmenter, resolve=True),
                    files=[self.dataset.root],
                )
                splits, metrics = cached_splits(self._preprocess_dir, key, lambda: self._read(language))
            else:
                splits, metrics = self._read(language)
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

    @property
    def _preprocess_dir(self) -> Path:
        return Path(self.cfg.cache_dir).expanduser() / "preprocess"

    def _read(self, language: str) -> tuple[Splits, dict[str, float]]:
        """Read, cut to ``split.limit``, segment; with the counts to log."""
        splits = self.dataset.load(language)
        if self.cfg.split.get("limit"):
            splits = {name: examples[: self.cfg.split.limit] for name, examples in splits.items()}
        counts: Counter[str] = Counter()
        resegment = getattr(self.dataset, "resegment", False) and language in UNSPACED
        for examples in splits.values():
            if resegment and any(ex.words for ex in examples):
                counts.update(resegment_examples(examples, self.segmenter(language)))
            counts.update(self.segment(examples, language))
        metrics = {f"data/{language}/{k}": float(v) for k, v in counts.items()}
        metrics |= {f"data/{language}/{split}_examples": float(len(e)) for split, e in splits.items()}
        for kind in ("skipped", "repaired"):  # the reader's running counts over the files read so far
            metrics |= {f"data/{kind}/{key}": float(n) for key, n in getattr(self.dataset, kind, {}).items()}
        return splits, metrics

    def segment(self, examples: list[Example], language: str) -> Counter[str]:
        """Fill in the words of examples that have none (read from raw text, translated, paraphrased), the
        second sentence's words on pair tasks, and word-level BIO tags from character spans on slot tasks;
        returns alignment counts."""
        segment = self.segmenter(language)
        counts: Counter[str] = Counter()
        for ex in examples:
            if ex.text_pair is not None and not ex.pair_words:
                ex.pair_words = segment(ex.text_pair)
            if ex.words:
                continue
            ex.words = segment(ex.text)
            if ex.spans and self.dataset.task != "intent":
                alignment = spans_to_bio(ex.text, ex.words, ex.spans)
                ex.slots = alignment.tags
                counts.update(spans=len(ex.spans), inexact=alignment.inexact, unaligned=alignment.unaligned)
        return counts

    def split(self, language: str, name: str) -> list[Example]:
        splits = self.splits(language)
        if name not in splits:
            raise DistillxError(
                f"dataset {self.dataset.name}, language {language}: no {name!r} split (has {', '.join(splits)})"
            )
        return splits[name]

    def halves(self, language: str) -> tuple[list[Example], list[Example]]:
        """(annotated, unannotated) halves of the train split (freetransfer-x.md §3.1)."""
        return annotated_halves(self.split(language, "train"), self.cfg.split.annotated_fraction, self.cfg.split.seed)

    @property
    def heads(self) -> tuple[str, ...]:
        """The heads every model of this run has: ``intent`` and/or ``slots``, from ``dataset.task``."""
        return {"intent": ("intent",), "slots": ("slots",), "both": ("intent", "slots")}[self.dataset.task]

    @cached_property
    def labels(self) -> LabelVocab | None:
        """Intent labels, from the source language's training data: the label set of the source model."""
        if "intent" not in self.heads:
            return None
        return LabelVocab.build(ex.intent for ex in self.split(self.source, "train") if ex.intent is not None)

    @cached_property
    def slot_labels(self) -> LabelVocab | None:
        """Word-level BIO tags, from the source language's training data (``O`` first)."""
        if "slots" not in self.heads:
            return None
        tags = {tag for ex in self.split(self.source, "train") for tag in ex.slots or ()} - {"O"}
        return LabelVocab(("O", *sorted(tags)))

    def gold(self, examples: list[Example], where: str) -> dict[str, Target]:
        """Label ids for training on gold labels, per head: every label must be known."""
        targets: dict[str, Target] = {}
        if self.labels is not None:
            ids = self.labels.encode([str(ex.intent) for ex in examples], where=where)
            targets["intent"] = torch.tensor(ids, dtype=torch.long)
        if self.slot_labels is not None:
            targets["slots"] = [
                torch.tensor(self.slot_labels.encode(ex.slots or ["O"] * len(ex.words), where=where), dtype=torch.long)
                for ex in examples
            ]
        return targets

    def reference(self, examples: list[Example], where: str) -> dict[str, list]:
        """Gold labels for scoring (``score(..., **reference)``). A test label the source model never saw
        can never be predicted: it counts as an error, as it would for any user of that model, and is reported."""
        ref: dict[str, list] = {}
        if self.labels is not None:
            ref["intents"] = [ex.intent for ex in examples]
            unknown = Counter(str(i) for i in ref["intents"] if i not in self.labels.ids)
            if unknown:
                log.warning(
                    "%s: %d examples have labels the source model does not know: %s",
                    where,
                    sum(unknown.values()),
                    dict(unknown),
                )
        if self.slot_labels is not None:
            ref["slots"] = [ex.slots or ["O"] * len(ex.words) for ex in examples]
        return ref

    # ------------------------------------------------------------------ tokenizers and models
    def vocab(self, language: str) -> PreTrainedTokenizerBase:
        """The small models' BPE vocabulary of ``language``, trained on its train text (no labels).

        With ``share_stages`` it is trained once for all runs with the same data and vocabulary settings, so
        that a shared source model always meets the very vocabulary it was trained with; each run keeps a
        copy in ``vocab/<language>`` for its artifacts."""
        directory = self.output_dir / "vocab" / language
        if (directory / "tokenizer.json").exists():
            return load_vocab(directory)
        language_cfg = "source" if language == self.source else "language"
        shared = self.shared_dir(
            "vocab", language, ["dataset", f"{language_cfg}.code", f"{language_cfg}.segmenter", "vocab"]
        )
        if shared is not None and (shared / "tokenizer.json").exists():
            tokenizer = load_vocab(shared)
        else:
            tokenizer = instantiate(self.cfg.vocab)([ex.words for ex in self.split(language, "train")])
            if shared is not None:
                save_vocab(tokenizer, shared)
        save_vocab(tokenizer, directory)
        return tokenizer

    def small_model(self, role: str, language: str) -> TaskModel:
        """A from-scratch ``teacher`` or ``student`` over ``language``'s BPE vocabulary."""
        spec = self.cfg[role]
        tokenizer = self.vocab(language)
        torch.manual_seed(self.cfg.seed)
        encoder = instantiate(spec.encoder)(vocab_size=len(tokenizer))
        model = self._with_heads(encoder, spec.dropout)
        arch = spec.encoder._target_.rsplit(".", 1)[-1].removesuffix("Encoder").lower()
        return TaskModel(role, arch, model, tokenizer, self.cfg.max_length)

    @cached_property
    def mplm_path(self) -> str:
        spec = self.cfg.mplm
        if spec.build is not None:
            languages = [lang for lang in spec.languages if lang in self.dataset.languages]
            corpus = {lang: {ex.id: ex.words for ex in self.split(lang, "train")} for lang in languages}
            return str(instantiate(spec.build).ensure(corpus, pivot=self.source))
        if not spec.name_or_path:
            raise DistillxError("mplm.name_or_path is not set: name a Hugging Face model or a local model directory")
        return str(spec.name_or_path)

    def mplm_model(self) -> TaskModel:
        spec = self.cfg.mplm
        torch.manual_seed(self.cfg.seed)
        encoder = instantiate(spec.encoder)(name_or_path=self.mplm_path)
        model = self._with_heads(encoder, spec.dropout)
        max_length = min(self.cfg.max_length, encoder.max_positions)
        arch = "demo-mplm" if spec.build is not None else Path(self.mplm_path).name
        if spec.encoder.random_init:
            arch += " (random init)"
        return TaskModel("mplm", arch, model, load_tokenizer(self.mplm_path), max_length)

    def _with_heads(self, encoder: nn.Module, dropout: float) -> TaskHeads:
        return TaskHeads(
            encoder,
            num_intents=len(self.labels) if self.labels is not None else 0,
            num_slots=len(self.slot_labels) if self.slot_labels is not None else 0,
            dropout=dropout,
        )

    def encode(self, task_model: TaskModel, examples: list[Example]) -> EncodedSet:
        """Sub-word ids and word positions of ``examples`` for ``task_model`` (cached like the splits)."""
        words = [ex.words for ex in examples]
        pairs = [ex.pair_words for ex in examples] if any(ex.text_pair is not None for ex in examples) else None
        tokenizer, max_length = task_model.tokenizer, task_model.max_length

        def build() -> dict[str, list[list[int]]]:
            return encode_words(tokenizer, words, max_length, pairs)

        if self.cfg.preprocess_cache:
            key = encoding_key(tokenizer=tokenizer, max_length=max_length, word_lists=words, pair_lists=pairs)
            enc = cached_encoding(self._preprocess_dir, key, build)
        else:
            enc = build()
        return EncodedSet(enc["input_ids"], task_model.tokenizer.pad_token_id or 0, enc["word_index"])

    @cached_property
    def translator(self) -> Translator:
        """The MT system of the methods that translate (``translator`` group); the parallel-corpus one gets
        this run's dataset. Oracle translation is announced in the log and tagged on the run."""
        spec = self.cfg.get("translator")
        if spec is None:
            raise DistillxError("this method translates: choose translator=parallel|m2m100|tiny_m2m100")
        translator = instantiate(spec, dataset=self.dataset) if "dataset" in spec else instantiate(spec)
        self.tracker.set_tags(
            {"distillx.translator": translator.name, "distillx.oracle_translation": translator.oracle}
        )
        return translator

    # ------------------------------------------------------------------ bookkeeping
    def shared_dir(self, kind: str, name: str, depends_on: Sequence[str]) -> Path | None:
        """A directory under ``cache_dir`` named after the config values ``depends_on`` (dotted keys), so runs
        whose configs agree there share what is built in it; None when ``share_stages`` is off."""
        if not self.cfg.share_stages:
            return None
        values = {k: OmegaConf.select(self.cfg, k) for k in depends_on}
        key = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in values.items()}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        directory = Path(self.cfg.cache_dir) / kind / f"{name}-{digest}"
        directory.mkdir(parents=True, exist_ok=True)
        if not (directory / "key.json").exists():
            atomic_write_json(key, directory / "key.json")
        return directory

    def stage_dir(self, name: str, depends_on: Sequence[str] = ()) -> Path:
        """Where stage ``name`` keeps its checkpoints. A stage that declares the config keys it depends on
        lives in a shared directory (``share_stages``): a sweep over target languages or students trains the
        source model and KD step 1 once. The run's ``stages/<name>`` links to it."""
        local = self.output_dir / "stages" / name
        shared = self.shared_dir("stages", name, depends_on) if depends_on else None
        if shared is None:
            return local
        if not local.is_symlink() and not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            local.symlink_to(shared, target_is_directory=True)
        return local

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.tracker.log_metrics(metrics, step=step)
