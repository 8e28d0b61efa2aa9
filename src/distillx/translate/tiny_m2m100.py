"""A tiny, randomly initialised M2M-100 with its tokenizer, built locally: the hub is unreachable and
``sentencepiece`` (which M2M-100's own tokenizer needs) may be absent, yet the translation plumbing
(language tokens, batching, decoding, sampling) must be testable offline.

Its weights are random, so its "translations" are random text: use it for plumbing only, never for results.
The tokenizer is a small BPE over ``▁``-marked words like M2M-100's SentencePiece (so random output decodes to
words, not byte soup; unseen characters become ``<unk>``), saved as a ``PreTrainedTokenizerFast`` with
M2M-100's special-token ids and ``__xx__`` language tokens, so
:class:`~distillx.translate.seq2seq.Seq2SeqTranslator` drives it like the real model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import M2M100Config, M2M100ForConditionalGeneration, PreTrainedTokenizerFast

from distillx.files import atomic_write_json, build_once, built_with, digest

log = logging.getLogger(__name__)

# M2M-100's own order: <s>=0, <pad>=1, </s>=2, <unk>=3 (the model config refers to these ids).
BOS, PAD, EOS, UNK = "<s>", "<pad>", "</s>", "<unk>"
FORMAT = 1
"""Bumped when the build changes, so that cached builds of an older format are not reused."""

# A few strings per script, only to give the BPE a vocabulary; the output is random anyway.
SAMPLE_TEXT = [
    "turn the lights off please",
    "what is the weather like tomorrow",
    "schalte bitte die lichter aus",
    "apaga las luces por favor",
    "éteins les lumières s'il te plaît",
    "कृपया बत्तियाँ बंद करो",
    "请把灯关掉",
    "明日の天気はどうですか",
    "ปิดไฟหน่อย",
    "lütfen ışıkları kapat",
    "выключи свет пожалуйста",
    "불 좀 꺼 줘",
    "أطفئ الأنوار من فضلك",
]


class TinyM2M100Builder:
    """Writes (once, atomically) a random ``M2M100ForConditionalGeneration`` and its tokenizer, keyed by its
    settings under ``cache_dir``, and returns the directory for ``from_pretrained``."""

    def __init__(
        self,
        cache_dir: str,
        languages: Sequence[str],
        d_model: int = 32,
        layers: int = 1,
        heads: int = 2,
        ffn_dim: int = 64,
        vocab_size: int = 400,
        max_positions: int = 256,
        seed: int = 0,
    ) -> None:
        self.cache_dir = Path(cache_dir).expanduser()
        self.settings = {
            "format": FORMAT,
            "languages": sorted(set(languages)),
            "d_model": d_model,
            "layers": layers,
            "heads": heads,
            "ffn_dim": ffn_dim,
            "vocab_size": vocab_size,
            "max_positions": max_positions,
            "seed": seed,
        }

    def key(self) -> str:
        return digest([self.settings, built_with(("distillx.translate.tiny_m2m100",))])

    def ensure(self) -> Path:
        """The model directory: built on first use (once, under a lock, renamed into place), then reused."""
        target = self.cache_dir / self.key()

        def build(tmp: Path) -> None:
            log.info("building a tiny random M2M-100 (plumbing only, random output) into %s", target)
            self._build(tmp)

        return build_once(
            target, build, lambda d: (d / "config.json").exists() and (d / "tokenizer.json").exists(), "tiny M2M-100"
        )

    def tokenizer(self) -> PreTrainedTokenizerFast:
        s = self.settings
        tok = Tokenizer(models.BPE(unk_token=UNK, fuse_unk=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(
            vocab_size=s["vocab_size"], special_tokens=[BOS, PAD, EOS, UNK], show_progress=False
        )
        tok.train_from_iterator(SAMPLE_TEXT, trainer)
        tok.add_special_tokens([f"__{lang}__" for lang in s["languages"]])
        # "text </s>", as M2M-100 encodes; the translator puts the __src__ token in front.
        tok.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", special_tokens=[(EOS, 2)])
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, pad_token=PAD, eos_token=EOS, unk_token=UNK)

    def _build(self, out: Path) -> None:
        s = self.settings
        tokenizer = self.tokenizer()
        config = M2M100Config(
            vocab_size=len(tokenizer),
            d_model=s["d_model"],
            encoder_layers=s["layers"],
            decoder_layers=s["layers"],
            encoder_attention_heads=s["heads"],
            decoder_attention_heads=s["heads"],
            encoder_ffn_dim=s["ffn_dim"],
            decoder_ffn_dim=s["ffn_dim"],
            max_position_embeddings=s["max_positions"],
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=2,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s["seed"])
            model = M2M100ForConditionalGeneration(config)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        atomic_write_json({**s, "note": "random weights: plumbing tests only"}, out / "build_info.json")
