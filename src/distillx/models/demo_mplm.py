"""The demo's multilingual PLM, pre-trained by distillx itself so the demo needs no download.

A small BERT is trained with masked language modelling (MLM) on every language's unlabeled train text and
with translation language modelling (TLM, crosslingual-transfer-survey.md §1.1) on parallel pairs
(English + the same utterance in another language, concatenated, masked on both sides), over one shared BPE
vocabulary. The result is saved as an ordinary Hugging Face model directory, keyed by everything that
affects it, so later runs load it with ``from_pretrained`` like any other mPLM.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling

from distillx.files import atomic_write_json, build_once, built_with, digest, digest_lines
from distillx.text.vocab import train_bpe
from distillx.train.precision import autocast, resolve_device, resolve_precision

log = logging.getLogger(__name__)

_Row = tuple[list[int], list[int]]
"""Token ids and their position ids."""

Corpus = Mapping[str, Mapping[str, list[str]]]
"""Unlabeled words by language, then by utterance id (the ids tie translations together)."""


def masked_lm_loss(model: BertForMaskedLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """MLM cross-entropy computed on the masked positions only: the vocabulary projection of the other 85%
    of the tokens is half of a small model's compute and contributes nothing to the loss."""
    labels = batch.pop("labels")
    states = model.bert(**batch).last_hidden_state
    picked = labels != -100
    logits = model.cls(states[picked])
    return torch.nn.functional.cross_entropy(logits.float(), labels[picked])


def pad_rows(rows: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    return ids.to(device), (ids != pad_id).long().to(device)


def translation_ranking_loss(
    model: BertForMaskedLM, a: list[list[int]], b: list[list[int]], pad_id: int, temperature: float = 0.05
) -> torch.Tensor:
    """In-batch translation ranking (as in LaBSE): the mean-pooled encoding of each sentence must be closer
    to its own translation than to the other sentences of the batch, in both directions."""
    device = next(model.parameters()).device
    pooled = []
    for rows in (a, b):
        ids, mask = pad_rows(rows, pad_id, device)
        states = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        mean = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        pooled.append(torch.nn.functional.normalize(mean, dim=-1))
    scores = pooled[0] @ pooled[1].T / temperature
    target = torch.arange(len(a), device=device)
    return (torch.nn.functional.cross_entropy(scores, target) + torch.nn.functional.cross_entropy(scores.T, target)) / 2


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
        align_weight: float = 0.0,
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
            "align_weight": align_weight,
            "seed": seed,
        }
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.progress = progress

    def key(self, corpus: Corpus, pivot: str) -> str:
        """Settings, pivot, the corpus text and the code that pre-trains: another of any is another model."""
        text = digest_lines(
            f"{lang}\t{uid}\t{' '.join(corpus[lang][uid])}" for lang in sorted(corpus) for uid in sorted(corpus[lang])
        )
        return digest([self.settings, pivot, text, built_with(("distillx.models.demo_mplm", "distillx.text"))])

    def ensure(self, corpus: Corpus, pivot: str = "en") -> Path:
        """The model directory for ``corpus``: built on first use (once, however many jobs ask), then reused."""
        target = self.cache_dir / self.key(corpus, pivot)

        def build(tmp: Path) -> None:
            log.info("pre-training the demo mPLM (MLM + TLM, %d steps) into %s", self.settings["steps"], target)
            self._build(corpus, pivot, tmp)

        return build_once(target, build, _complete, "the demo mPLM")

    def _build(self, corpus: Corpus, pivot: str, out: Path) -> None:
        s = self.settings
        rng = random.Random(s["seed"])
        torch.manual_seed(s["seed"])
        keys = [(lang, uid) for lang in sorted(corpus) for uid in sorted(corpus[lang])]
        sentences = [corpus[lang][uid] for lang, uid in keys]
        tokenizer = train_bpe(sentences, vocab_size=s["vocab_size"], min_frequency=2)
        encoded = tokenizer(sentences, is_split_into_words=True, truncation=True, max_length=s["max_length"])
        ids = dict(zip(keys, encoded["input_ids"], strict=True))
        mono: list[_Row] = [(row, list(range(len(row)))) for row in ids.values()]
        # TLM: [CLS] a [SEP] b [SEP] for both orders of each translation pair, the positions of b restarting
        # at 1 (Lample & Conneau 2019). Segment ids stay 0: at fine-tuning time every language arrives alone,
        # as segment 0 from position 0, and TLM should present it the same way.
        tlm: list[_Row] = []
        pairs: list[tuple[list[int], list[int]]] = []
        for lang, uid in keys:
            if lang == pivot or (pivot, uid) not in ids:
                continue
            pairs.append((ids[pivot, uid], ids[lang, uid]))
            for first, second in ((ids[pivot, uid], ids[lang, uid]), (ids[lang, uid], ids[pivot, uid])):
                tail = second[1:]
                tlm.append((first + tail, list(range(len(first))) + list(range(1, len(tail) + 1))))
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=s["hidden_size"],
            num_hidden_layers=s["num_layers"],
            num_attention_heads=s["num_heads"],
            intermediate_size=s["intermediate_size"],
            max_position_embeddings=s["max_length"] + 2,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = BertForMaskedLM(config).to(self.device)
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=s["mlm_probability"])
        optimizer = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=0.01, fused=True)
        warmup = max(1, s["steps"] // 10)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: min((t + 1) / warmup, max(0.0, (s["steps"] - t) / (s["steps"] - warmup)))
        )
        model.train()
        start, losses = time.time(), []
        for _ in tqdm(range(s["steps"]), desc="demo mPLM pre-training", disable=not self.progress):
            use_tlm = bool(tlm) and rng.random() < s["tlm_fraction"]
            rows = rng.sample(tlm if use_tlm else mono, s["batch_size"])
            batch = collator([{"input_ids": row} for row, _ in rows])
            positions = torch.zeros_like(batch["input_ids"])
            for i, (_, pos) in enumerate(rows):
                positions[i, : len(pos)] = torch.tensor(pos)
            batch = {**{k: v.to(self.device) for k, v in batch.items()}, "position_ids": positions.to(self.device)}
            with autocast(self.device, self.precision):
                loss = masked_lm_loss(model, batch)
                if s["align_weight"] and pairs:
                    chosen = rng.sample(pairs, s["batch_size"])
                    loss = loss + s["align_weight"] * translation_ranking_loss(
                        model, [a for a, _ in chosen], [b for _, b in chosen], tokenizer.pad_token_id
                    )
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
                "tlm_rows": len(tlm),
                "final_mlm_loss": sum(tail) / max(1, len(tail)),
                "seconds": round(time.time() - start, 1),
            },
            out / "build_info.json",
        )


def _complete(directory: Path) -> bool:
    return (directory / "config.json").exists() and (directory / "tokenizer.json").exists()
