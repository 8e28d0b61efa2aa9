"""Word replacement by a masked language model (in the spirit of TinyBERT's augmentation, Jiao et al. 2020):
needs no MT system, only an MLM head for the target language — the demo mPLM's, or any local
``AutoModelForMaskedLM`` directory."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForMaskedLM, AutoTokenizer

from distillx.data.schema import Example
from distillx.errors import DistillxError
from distillx.text.retag import join_words

if TYPE_CHECKING:
    from distillx.context import RunContext


class MLMReplacement:
    """D_tgt + ``n`` copies of each utterance in which each word is, with probability ``probability`` (at least
    one word), replaced by a whole-word token sampled from the MLM's ``top_k`` predictions for that slot."""

    def __init__(
        self,
        n: int = 1,
        probability: float = 0.15,
        top_k: int = 10,
        name_or_path: str | None = None,
        batch_size: int = 64,
        seed: int = 42,
        progress: bool = True,
    ) -> None:
        if n < 1 or not 0 < probability <= 1 or top_k < 1:
            raise ValueError("augmentation needs n >= 1, 0 < probability <= 1 and top_k >= 1")
        self.n, self.probability, self.top_k = n, probability, top_k
        self.name_or_path, self.batch_size, self.seed, self.progress = name_or_path, batch_size, seed, progress

    def _load(self, ctx: RunContext) -> tuple[torch.nn.Module, object]:
        path = self.name_or_path or ctx.models.mplm_path
        try:
            model, info = AutoModelForMaskedLM.from_pretrained(path, output_loading_info=True)
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as err:
            raise DistillxError(f"augmentation.name_or_path={path!r}: cannot load a masked LM ({err})") from None
        if any("lm_head" in k or k.startswith("cls.") for k in info["missing_keys"]):
            raise DistillxError(
                f"augmentation=mlm_replace: {path} has no trained MLM head (its checkpoint is an encoder only); set "
                "augmentation.name_or_path to a masked LM, or use augmentation=paraphrase"
            )
        if tokenizer.mask_token_id is None:
            raise DistillxError(f"augmentation=mlm_replace: the tokenizer of {path} has no mask token")
        return model.eval(), tokenizer

    def _candidates(self, tokenizer: object) -> torch.Tensor:
        """Vocabulary ids that stand for a whole word on their own (no continuation piece, no special token)."""
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))  # type: ignore[attr-defined]
        special = set(tokenizer.all_special_ids)  # type: ignore[attr-defined]
        ok = [
            i not in special and not tok.startswith("##") and tok.strip("▁Ġ") != "" and not tok.startswith("[")
            for i, tok in enumerate(vocab)
        ]
        return torch.tensor(ok)

    @torch.no_grad()
    def __call__(self, ctx: RunContext, examples: list[Example], language: str) -> list[Example]:
        model, tokenizer = self._load(ctx)
        allowed = self._candidates(tokenizer)
        rng = random.Random(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        jobs = [(ex, k) for k in range(self.n) for ex in examples if ex.words]
        out: list[Example] = []
        batches = range(0, len(jobs), self.batch_size)
        for start in tqdm(batches, desc="mlm replacement", leave=False, disable=not self.progress):
            chunk = jobs[start : start + self.batch_size]
            chosen = []
            masked = []
            for ex, _ in chunk:
                picks = {i for i in range(len(ex.words)) if rng.random() < self.probability}
                picks = picks or {rng.randrange(len(ex.words))}
                chosen.append(sorted(picks))
                masked.append([tokenizer.mask_token if i in picks else w for i, w in enumerate(ex.words)])
            enc = tokenizer(
                masked, is_split_into_words=True, truncation=True, max_length=128, padding=True, return_tensors="pt"
            )
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.float()
            logits[..., ~allowed] = float("-inf")
            for row, ((ex, k), picks) in enumerate(zip(chunk, chosen, strict=True)):
                words = list(ex.words)
                positions = (enc["input_ids"][row] == tokenizer.mask_token_id).nonzero().flatten().tolist()
                for word_i, pos in zip(picks, positions, strict=False):  # truncated masks keep their word
                    top = logits[row, pos].topk(self.top_k)
                    probs = torch.softmax(top.values, -1)
                    token = top.indices[torch.multinomial(probs, 1, generator=generator)].item()
                    new = tokenizer.decode([token]).strip()
                    if new:
                        words[word_i] = new
                text = join_words(words, language)
                out.append(replace(ex, id=f"{ex.id}~m{k}", text=text, words=words, intent=None, spans=(), slots=None))
        ctx.log_metrics({f"data/{language}/mlm_replacements": float(len(out))})
        return examples + out
