"""Per-language sub-word vocabularies for the small student models.

A BPE model trained on one language's unlabeled words, wrapped as a transformers fast tokenizer so that
students and the mPLM teacher are encoded through the same API (``is_split_into_words=True`` and
``word_ids()``). Input is always pre-segmented words: there is no pre-tokenisation beyond whitespace.

Continuation pieces carry a ``##`` prefix (WordPiece style) instead of a word-start marker, so every word
starts with a piece of its own text: no bare ``▁`` first pieces, and ``word_ids()`` maps cleanly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from distillx.errors import DistillxError
from distillx.text.bpe import learn_bpe

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]
CONTINUATION = "##"


def train_bpe(word_lists: Iterable[list[str]], vocab_size: int, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train a BPE vocabulary of at most ``vocab_size`` tokens (special tokens included) on word lists.

    Each kept character costs two entries (word-initial and ``##`` form), so the alphabet is capped at a
    quarter of the budget, keeping the most frequent characters; for Chinese or Japanese this leaves room
    for merges, and rare characters become ``[UNK]`` (one per run, not one per character). Merges are learned
    by :func:`distillx.text.bpe.learn_bpe`, not the ``tokenizers`` trainer, whose ties follow hash order: the
    same words must give the same vocabulary in every process, or a seeded run is not reproducible.
    """
    budget = vocab_size - len(SPECIAL_TOKENS)
    if budget < 2:
        raise DistillxError(f"vocab_size={vocab_size} is too small: it must exceed {len(SPECIAL_TOKENS) + 1}")
    normalizer, pre_tokenizer = normalizers.NFC(), pre_tokenizers.WhitespaceSplit()
    raw = Counter(word for words in word_lists for word in words)
    counts: Counter[str] = Counter()
    for word in sorted(raw):  # what the tokenizer will see: normalized, then split on whitespace
        for piece, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(word)):
            counts[piece] += raw[word]
    vocab, merges = learn_bpe(
        counts,
        vocab_size,
        min_frequency=min_frequency,
        max_alphabet=max(1, budget // 4),
        special_tokens=SPECIAL_TOKENS,
        prefix=CONTINUATION,
    )
    tok = Tokenizer(
        models.BPE(vocab=vocab, merges=merges, unk_token=UNK, continuing_subword_prefix=CONTINUATION, fuse_unk=True)
    )
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece(prefix=CONTINUATION)
    tok.add_special_tokens(SPECIAL_TOKENS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(t, vocab[t]) for t in (CLS, SEP)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, unk_token=UNK, cls_token=CLS, sep_token=SEP, mask_token=MASK
    )


def save_vocab(tokenizer: PreTrainedTokenizerFast, directory: str | Path) -> None:
    """Write ``tokenizer.json`` and its config to ``directory`` (created if missing)."""
    tokenizer.save_pretrained(str(directory))


def load_vocab(directory: str | Path) -> PreTrainedTokenizerFast:
    """Load a vocabulary saved by :func:`save_vocab` (local files only, never the hub)."""
    path = Path(directory)
    if not (path / "tokenizer.json").is_file():
        raise DistillxError(f"no sub-word vocabulary at {path}: tokenizer.json is missing; train it first")
    return PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
