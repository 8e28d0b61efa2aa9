"""The demo's multilingual PLM, pre-trained by distillx itself so the demo needs no download.

A small BERT is trained with masked language modelling (MLM) on every language's unlabeled train text and
with translation language modelling (TLM, crosslingual-transfer-survey.md §1.1) on parallel pairs
(English + the same utterance in another language, concatenated, masked on both sides), over one shared BPE
vocabulary. The result is saved as an ordinary Hugging Face model directory, keyed by everything that
affects it, so later runs load it with ``from_pretrained`` like any other mPLM.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling

from distillx.text.vocab import train_bpe
from distillx.train.checkpoint import atomic_write_json
from distillx.train.precision import autocast, resolve_device, resolve_precision

log = logging.getLogger(__name__)

Corpus = Mapping[str, Mapping[str, list[str]]]
"""Unlabeled words by language, then by utterance id (the ids tie translations together)."""


class DemoMPLMBuilder:
    """Builds (once) and returns the directory of the demo mPLM for a parallel multilingual corpus."""

    def __init__(
        self,
        cache_dir: str,
        vocab_size: int = 6000,
        hidden_size: int = 128,
        num_layers: int = 4,
        num_heads: int = 4,
        intermediate_size: int = 512,
        max_length: int = 64,
        steps: int = 1500,
        batch_size: int = 64,
        lr: float = 1e-3,
        mlm_probability: float = 0.15,
        tlm_fraction: float = 0.5,
        seed: int = 42,
        device: str = "auto",
        precision: str = "auto",
        progress: bool = True,
    ) -> None:
        self.cache_dir = Path(cache_dir).expanduser()
        self.settings = {
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "intermediate_size": intermediate_size,
            "max_length": max_length,
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "mlm_probability": mlm_probability,
            "tlm_fraction": tlm_fraction,
            "seed": seed,
        }
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.progress = progress

    def key(self, corpus: Corpus, pivot: str) -> str:
        digest = hashlib.sha256(json.dumps([self.settings, pivot], sort_keys=True).encode())
        for lang in sorted(corpus):
            for uid in sorted(corpus[lang]):
                digest.update(f"{lang}\t{uid}\t{' '.join(corpus[lang][uid])}\n".encode())
        return digest.hexdigest()[:16]

    def ensure(self, corpus: Corpus, pivot: str = "en") -> Path:
        """The model directory for ``corpus``: built on first use, then reused."""
        target = self.cache_dir / self.key(corpus, pivot)
        if (target / "config.json").exists() and (target / "tokenizer.json").exists():
            return target
        log.info("pre-training the demo mPLM (MLM + TLM, %d steps) into %s", self.settings["steps"], target)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=self.cache_dir))
        try:
            self._build(corpus, pivot, tmp)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def _build(self, corpus: Corpus, pivot: str, out: Path) -> None:
        s = self.settings
        rng = random.Random(s["seed"])
        torch.manual_seed(s["seed"])
        sentences = [words for lang in sorted(corpus) for words in corpus[lang].values()]
        tokenizer = train_bpe(sentences, vocab_size=s["vocab_size"], min_frequency=2)
        pairs = [
            (corpus[pivot][uid], corpus[lang][uid])
            for lang in sorted(corpus)
            if lang != pivot
            for uid in sorted(corpus[lang])
            if uid in corpus[pivot]
        ]
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=s["hidden_size"],
            num_hidden_layers=s["num_layers"],
            num_attention_heads=s["num_heads"],
            intermediate_size=s["intermediate_size"],
            max_position_embeddings=2 * s["max_length"] + 3,
            type_vocab_size=2,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = BertForMaskedLM(config).to(self.device)
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=s["mlm_probability"])
        optimizer = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=0.01)
        warmup = max(1, s["steps"] // 10)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: min((t + 1) / warmup, max(0.0, (s["steps"] - t) / (s["steps"] - warmup)))
        )
        model.train()
        start, losses = time.time(), []
        for _ in tqdm(range(s["steps"]), desc="demo mPLM pre-training", disable=not self.progress):
            if pairs and rng.random() < s["tlm_fraction"]:
                chosen = rng.sample(pairs, s["batch_size"])
                enc = tokenizer(
                    [a for a, _ in chosen],
                    [b for _, b in chosen],
                    is_split_into_words=True,
                    truncation=True,
                    max_length=2 * s["max_length"],
                    return_token_type_ids=True,
                )
            else:
                chosen_mono: Sequence[list[str]] = rng.sample(sentences, s["batch_size"])
                enc = tokenizer(
                    chosen_mono,
                    is_split_into_words=True,
                    truncation=True,
                    max_length=s["max_length"],
                    return_token_type_ids=True,
                )
            features = [{k: enc[k][i] for k in ("input_ids", "token_type_ids")} for i in range(len(enc["input_ids"]))]
            batch = {k: v.to(self.device) for k, v in collator(features).items()}
            with autocast(self.device, self.precision):
                loss = model(**batch).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        tail = losses[-100:]
        atomic_write_json(
            {
                **s,
                "pivot": pivot,
                "languages": sorted(corpus),
                "sentences": len(sentences),
                "tlm_pairs": len(pairs),
                "final_mlm_loss": sum(tail) / max(1, len(tail)),
                "seconds": round(time.time() - start, 1),
            },
            out / "build_info.json",
        )
