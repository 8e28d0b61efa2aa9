"""Which sub-word token stands for each word: word-level labels are read and predicted there.

SentencePiece and byte-level BPE tokenizers (XLM-R, GPT-2 style) often split a word with no vocabulary
entry of its own into a bare word-start marker (``▁`` / ``Ġ``) followed by the word's text, notably for
Chinese, Japanese and Thai words fed with ``is_split_into_words=True``. The bare marker carries no
information about the word, so a word is represented by its first piece that is *not* a bare marker; the
marker is used only when it is the word's only piece left (the rest truncated away).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def first_subword_index(word_ids: Sequence[int | None], n_words: int, bare: Sequence[bool] | None = None) -> list[int]:
    """Position of each word's representative sub-word in an encoded sequence; -1 if the word has no token.

    ``bare[i]`` marks position ``i`` as a bare word-start marker, skipped in favour of the next piece of the
    same word. A word has no token when truncation cut it off.
    """
    index = [-1] * n_words
    for pos, word in enumerate(word_ids):
        if word is None:
            continue
        first = index[word]
        if first < 0 or (bare is not None and bare[first] and first == pos - 1):
            index[word] = pos
    return index


def encode_words(
    tokenizer: Any,
    word_lists: Sequence[list[str]],
    max_length: int,
    pair_lists: Sequence[list[str]] | None = None,
) -> dict[str, list[list[int]]]:
    """Encode pre-segmented utterances (with the tokenizer's special tokens, truncated, unpadded); with
    ``pair_lists`` each utterance is followed by its second sentence in the tokenizer's pair format
    (``<s> A </s></s> B </s>`` for XLM-R, ``[CLS] A [SEP] B [SEP]`` for distillx's BPE), the longer of the two
    truncated first.

    Returns ``input_ids`` and ``word_index``: per utterance, for each word of the first sentence, the position
    of its representative sub-word (see :func:`first_subword_index`) or -1 when truncated away.
    """
    pairs = None if pair_lists is None else list(pair_lists)
    enc = tokenizer(list(word_lists), pairs, is_split_into_words=True, truncation=True, max_length=max_length)
    special = set(tokenizer.all_special_ids)
    is_bare: dict[int, bool] = {}

    def bare(token_id: int) -> bool:
        if token_id not in is_bare:
            is_bare[token_id] = token_id not in special and not tokenizer.decode([token_id]).strip()
        return is_bare[token_id]

    word_index = []
    for i, words in enumerate(word_lists):
        ids = enc["input_ids"][i]
        word_ids = enc.word_ids(i)
        if pairs is not None:  # the second sentence's words are numbered from 0 again: not the first's
            word_ids = [w if seq == 0 else None for w, seq in zip(word_ids, enc.sequence_ids(i), strict=True)]
        word_index.append(first_subword_index(word_ids, len(words), [bare(t) for t in ids]))
    return {"input_ids": enc["input_ids"], "word_index": word_index}
