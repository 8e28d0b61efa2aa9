"""BPE vocabulary training: ``distillx.text.vocab.train_bpe`` against the ``tokenizers`` trainer it replaced.

The ``tokenizers`` trainer is fast but not reproducible across processes (ties follow hash order), so
``train_bpe`` learns its merges in Python (``distillx.text.bpe``). This measures what that costs and checks that
the vocabularies are as good: seconds to train, tokens and merges learned, and sub-word pieces per word and
``[UNK]`` pieces per 1000 words over the training words themselves.

Inputs (MultiATIS++ train utterances, column 2 split on spaces, from ``../shared/data/multiatis_pp``): English,
Chinese and Japanese alone (the per-language vocabularies), all nine languages together (the demo mPLM's shared
vocabulary), Chinese with the spaces removed (one long word per utterance) and a seeded synthetic corpus of
~50k word types over 4000 Zipf-distributed CJK characters (a large alphabet, many merges). The fastest of
``--repeats`` runs is reported (the CPU is shared).

Usage (from the repository root): ``.venv/bin/python benchmarks/bpe_training.py [--vocab-sizes 10000 2000]``
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from distillx.text.vocab import CLS, CONTINUATION, MASK, PAD, SEP, SPECIAL_TOKENS, UNK, train_bpe

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multiatis_pp"
LANGUAGES = ["EN", "DE", "ES", "FR", "HI", "JA", "PT", "TR", "ZH"]


def tokenizers_trainer(word_lists: list[list[str]], vocab_size: int, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """The previous ``train_bpe``: the ``tokenizers`` trainer with the same settings (the reference)."""
    budget = vocab_size - len(SPECIAL_TOKENS)
    tok = Tokenizer(models.BPE(unk_token=UNK, continuing_subword_prefix=CONTINUATION, fuse_unk=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix=CONTINUATION)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        limit_alphabet=max(1, budget // 4),
        continuing_subword_prefix=CONTINUATION,
        show_progress=False,
    )
    tok.train_from_iterator(word_lists, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(t, tok.token_to_id(t)) for t in (CLS, SEP)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, unk_token=UNK, cls_token=CLS, sep_token=SEP, mask_token=MASK
    )


def read_words(language: str) -> list[list[str]]:
    lines = (DATA / f"train_{language}.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[1].split(" ") for line in lines if line.strip()]


def synthetic_cjk(utterances: int = 20000, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    chars = [chr(0x4E00 + i) for i in range(4000)]
    weights = [1 / (rank + 1) for rank in range(len(chars))]
    return [
        ["".join(rng.choices(chars, weights, k=rng.randint(1, 4))) for _ in range(rng.randint(4, 12))]
        for _ in range(utterances)
    ]


def measure(train: Callable[..., PreTrainedTokenizerFast], words: list[list[str]], vocab_size: int, repeats: int):
    best, tok = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        tok = train(words, vocab_size=vocab_size)
        best = min(best, time.perf_counter() - start)
    assert tok is not None
    encoded = tok(words, is_split_into_words=True, add_special_tokens=False)["input_ids"]
    n_words = sum(len(w) for w in words)
    pieces = sum(len(ids) for ids in encoded)
    unk = sum(ids.count(tok.unk_token_id) for ids in encoded)
    merges = len(json.loads(tok.backend_tokenizer.to_str())["model"]["merges"])
    return best, len(tok), merges, pieces / n_words, 1000 * unk / n_words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[10000, 2000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    inputs = {lang.lower(): read_words(lang) for lang in ("EN", "ZH", "JA")}
    inputs["all 9"] = [w for lang in LANGUAGES for w in read_words(lang)]
    inputs["zh joined"] = [["".join(words)] for words in inputs["zh"]]
    inputs["synthetic"] = synthetic_cjk()
    print(f"fastest of {args.repeats}")
    print(f"{'vocab':>5} {'input':<9} {'utts':>6} {'types':>6} {'trainer':<11} {'seconds':>8} {'tokens':>6} "
          f"{'merges':>6} {'pieces/word':>11} {'unk/1k':>7}")  # fmt: skip
    for vocab_size in args.vocab_sizes:
        for name, words in inputs.items():
            types = len({w for ws in words for w in ws})
            for label, train in (("tokenizers", tokenizers_trainer), ("distillx", train_bpe)):
                seconds, tokens, merges, ppw, unk = measure(train, words, vocab_size, args.repeats)
                print(
                    f"{vocab_size:>5} {name:<9} {len(words):>6} {types:>6} {label:<11} {seconds:>8.2f} {tokens:>6} "
                    f"{merges:>6} {ppw:>11.3f} {unk:>7.2f}"
                )


if __name__ == "__main__":
    main()
