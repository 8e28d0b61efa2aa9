"""Builds the run's models with their tokenizers: small from-scratch models over per-language BPE vocabularies
(teacher, student) and the mPLM, each with the task heads of the run's label space.

A model carries its identity (what it was built from: role config, tokenizer, label set, base weights) and,
once a stage has trained it, the digest of its checkpoint: stage keys and stored teacher outputs are keyed by
both, so nothing computed by another model is ever served for this one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from transformers import PreTrainedTokenizerBase

from distillx.data.cache import tokenizer_fingerprint
from distillx.errors import DistillxError
from distillx.files import build_once, built_with, digest, digest_lines
from distillx.labels import LabelSpace
from distillx.models.heads import TaskHeads
from distillx.models.mplm import load_tokenizer
from distillx.text.vocab import load_vocab, save_vocab

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
    lr: float = 1e-3
    """The learning rate its role's config gives it (the LR range test may replace it)."""
    identity: dict[str, Any] = field(default_factory=dict)
    """What it was built from (JSON-able), for stage keys."""
    weights: str | None = None
    """Digest of the checkpoint a finished stage left it with; None while it holds its initial weights."""
    lr_search: bool = True
    """Whether the LR range test may replace ``lr``: a model trained from scratch. A pre-trained encoder keeps
    its config's LR (the test's pick for e5-small's 4-layer lean student, 1e-3, collapsed it to one intent)."""

    @property
    def fingerprint(self) -> dict[str, Any]:
        """Identity plus trained weights: what a teacher's stored outputs and a student's stage depend on."""
        return {**self.identity, "weights": self.weights}


class ModelFactory:
    """Models of the run's roles (``teacher``, ``student``, ``mplm`` configs) over the run's label space."""

    def __init__(
        self,
        roles: Mapping[str, DictConfig],
        vocab: DictConfig,
        labels: LabelSpace,
        *,
        max_length: int,
        seed: int,
        vocab_root: Path,
        run_vocab_dir: Path,
        train_words: Callable[[str], list[list[str]]],
        mplm_corpus: Callable[[list[str]], dict[str, dict[str, list[str]]]],
        pivot: str,
        bases: Mapping[str, Callable[[], Path]] | None = None,
    ) -> None:
        self.roles = roles
        self.vocab_cfg = vocab
        self.labels = labels
        self.max_length = max_length
        self.seed = seed
        self.vocab_root = vocab_root
        self.run_vocab_dir = run_vocab_dir
        self.train_words = train_words
        self.mplm_corpus = mplm_corpus
        self.pivot = pivot
        self.bases = dict(bases or {})
        """Encoders other than the mPLM a role may be built on (``base: lean``), each built on first use."""

    # ------------------------------------------------------------------ vocabularies
    def vocab(self, language: str) -> PreTrainedTokenizerBase:
        """The small models' BPE vocabulary of ``language``, trained on its train text (no labels).

        Kept under ``vocab_root`` keyed by the vocabulary settings, the very words it is trained on, the
        tokenization code and the library versions, built once under a lock (HF BPE training is not reproducible
        from one process to the next, so a shared source model must always meet the vocabulary it was trained
        with, and a resumed run the one it started with); each run keeps a copy in ``vocab/<language>`` for its
        artifacts, never read back: a rerun of the run directory on other data gets the vocabulary of that data."""
        words = self.train_words(language)
        key = {
            "vocab": OmegaConf.to_container(self.vocab_cfg, resolve=True),
            "language": language,
            "words": digest_lines(" ".join(w) for w in words),
            **built_with(("distillx.text",)),
        }
        shared = self.vocab_root / f"{language}-{digest(key)}"

        def build(tmp: Path) -> None:
            save_vocab(instantiate(self.vocab_cfg)(words), tmp)

        built = build_once(shared, build, lambda d: (d / "tokenizer.json").exists(), f"vocab {language}")
        tokenizer = load_vocab(built)
        save_vocab(tokenizer, self.run_vocab_dir / language)
        return tokenizer

    # ------------------------------------------------------------------ models
    def model(self, role: str, language: str, languages: Sequence[str] = ()) -> TaskModel:
        """The ``role``'s model for ``language``: from scratch over that language's BPE vocabulary, or (a role whose
        config names a ``base``) built on a pre-trained encoder's weights and tokenizer: the mPLM (``base: mplm``,
        e.g. the multilingual student or MBLM, given the supervised ``languages`` for its branches) or the small
        encoder built from it (``base: lean``)."""
        if self.roles[role].get("base"):
            return self.pretrained_model(role, languages)
        return self.small_model(role, language)

    def base_path(self, role: str) -> str:
        """The directory (or hub name) of the encoder ``role`` is built on."""
        base = self.roles[role].get("base")
        if base == "mplm":
            return self.mplm_path
        if base in self.bases:
            return str(self.bases[base]())
        choices = ", ".join(["mplm", *self.bases])
        raise DistillxError(
            f"{role}: this method needs a {role} built on a pre-trained encoder (base: {choices}): choose "
            f"{role}=mplm, {role}=mblm or {role}=lean"
        )

    def pretrained_model(
        self,
        role: str,
        languages: Sequence[str] = (),
        *,
        path: str | Path | None = None,
        voters: Sequence[int] | None = None,
    ) -> TaskModel:
        """A ``role`` model on its base encoder (weights, tokenizer and length limit) with the run's heads; on the
        encoder at ``path`` instead when given (e.g. the mPLM after bilingual task fitting), with ``voters`` heads
        (:class:`distillx.models.voters.Voters` of those hidden sizes) instead of linear ones when given."""
        spec = self.roles[role]
        path = str(path) if path is not None else self.base_path(role)  # first: the demo mPLM draws from the RNG
        torch.manual_seed(self.seed)
        build = instantiate(spec.encoder)
        branched = getattr(getattr(build, "func", build), "by_language", False)
        encoder = build(name_or_path=path, languages=list(languages)) if branched else build(name_or_path=path)
        model = self._with_heads(encoder, spec.dropout, voters)
        tokenizer = load_tokenizer(path)
        max_length = min(self.max_length, encoder.max_positions)
        arch = spec.encoder._target_.rsplit(".", 1)[-1].removesuffix("Encoder")
        name = self._mplm_name if spec.base == "mplm" else f"{spec.base} from {self._mplm_name}"
        identity = self._identity(role, spec, tokenizer, base=self.base_identity(path))
        identity |= {"max_length": max_length, "languages": list(languages) if branched else None}
        if voters:
            identity["voters"] = list(voters)
        return TaskModel(
            role, f"{arch} ({name})", model, tokenizer, max_length, float(spec.lr), identity, lr_search=False
        )

    @property
    def _mplm_name(self) -> str:
        return "demo-mplm" if self.roles["mplm"].build is not None else Path(self.mplm_path).name

    def small_model(self, role: str, language: str) -> TaskModel:
        """A from-scratch ``teacher`` or ``student`` over ``language``'s BPE vocabulary."""
        spec = self.roles[role]
        tokenizer = self.vocab(language)
        torch.manual_seed(self.seed)
        encoder = instantiate(spec.encoder)(vocab_size=len(tokenizer))
        model = self._with_heads(encoder, spec.dropout)
        arch = spec.encoder._target_.rsplit(".", 1)[-1].removesuffix("Encoder").lower()
        identity = self._identity(role, spec, tokenizer, base=None)
        return TaskModel(role, arch, model, tokenizer, self.max_length, float(spec.lr), identity)

    @cached_property
    def mplm_path(self) -> str:
        spec = self.roles["mplm"]
        if spec.build is not None:
            languages = list(spec.languages)
            return str(instantiate(spec.build).ensure(self.mplm_corpus(languages), pivot=self.pivot))
        if not spec.name_or_path:
            raise DistillxError("mplm.name_or_path is not set: name a Hugging Face model or a local model directory")
        return str(spec.name_or_path)

    @staticmethod
    def base_identity(name_or_path: str) -> dict[str, Any]:
        """An encoder's base weights, for keys: the local directory's files (names, sizes, mtimes; hashing 500 MB
        of weights per run would cost more than it protects), or the hub name."""
        path = Path(name_or_path)
        if not path.is_dir():
            return {"name": name_or_path}
        files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.iterdir() if p.is_file())
        return {"path": str(path.resolve()), "files": files}

    def mplm_model(self) -> TaskModel:
        spec = self.roles["mplm"]
        path = self.mplm_path  # first: building the demo mPLM draws from the global RNG
        torch.manual_seed(self.seed)
        encoder = instantiate(spec.encoder)(name_or_path=path)
        model = self._with_heads(encoder, spec.dropout)
        max_length = min(self.max_length, encoder.max_positions)
        arch = self._mplm_name
        if spec.encoder.random_init:
            arch += " (random init)"
        tokenizer = load_tokenizer(self.mplm_path)
        identity = self._identity("mplm", spec, tokenizer, base=self.base_identity(path))
        identity["max_length"] = max_length
        return TaskModel("mplm", arch, model, tokenizer, max_length, float(spec.lr), identity, lr_search=False)

    def _with_heads(self, encoder: nn.Module, dropout: float, voters: Sequence[int] | None = None) -> TaskHeads:
        extra = {"voters": list(voters)} if voters else {}
        return TaskHeads(encoder, dropout=dropout, **self.labels.sizes, **extra)

    def _identity(
        self, role: str, spec: DictConfig, tokenizer: PreTrainedTokenizerBase, base: dict[str, Any] | None
    ) -> dict[str, Any]:
        resolved = OmegaConf.to_container(spec, resolve=True)
        model_cfg = {k: v for k, v in resolved.items() if k not in ("lr", "languages", "build")}  # type: ignore[union-attr]
        return {
            "role": role,
            "config": model_cfg,
            "tokenizer": tokenizer_fingerprint(tokenizer),
            "labels": self.labels.describe(),
            "max_length": self.max_length,
            "seed": self.seed,
            "base": base,
        }
