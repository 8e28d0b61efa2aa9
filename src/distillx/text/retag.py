"""Carry word-level BIO tags from a dataset's own tokenisation to distillx's segmentation.

Benchmarks ship Chinese, Japanese and Thai already cut into words (MultiATIS++ around slot values, WikiANN
into characters, MASSIVE at slot boundaries) that differ from what jieba, MeCab or newmm produce on raw
text at prediction time. Training on the file's words would teach the student a segmentation it never
sees again, so the tags are moved to character spans and back onto the segmenter's words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import regex

from distillx.data.schema import Example, Span
from distillx.text.segment import spans_to_bio, word_offsets

UNSPACED = frozenset({"zh", "ja", "th"})
"""Languages written without spaces between words: their pre-tokenised words are re-segmented."""

# Between two words of an unspaced language a space is kept only where both sides are alphabetic or
# numeric in a spaced script ("UA 281", "hey olly" inside Chinese or Thai sentences).
_SPACED_END = regex.compile(r"[\p{Latin}\p{Greek}\p{Cyrillic}\p{N}]$")
_SPACED_START = regex.compile(r"^[\p{Latin}\p{Greek}\p{Cyrillic}\p{N}]")


def join_words(words: Sequence[str], language: str, *, chars: bool = False) -> str:
    """The text the words were cut from, as the language writes it.

    Spaced languages join with one space. Unspaced ones join with none, except between two words of a
    spaced script; ``chars=True`` (character-tokenised data such as WikiANN zh/ja) joins with none at all.
    """
    if language not in UNSPACED:
        return " ".join(words)
    if chars or not words:
        return "".join(words)
    parts = [words[0]]
    for prev, word in pairwise(words):
        if _SPACED_END.search(prev) and _SPACED_START.search(word):
            parts.append(" ")
        parts.append(word)
    return "".join(parts)


def to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 (CoNLL-2003: ``I-x`` opens an entity, ``B-x`` only separates two adjacent ones) to IOB2.

    On IOB2 input it changes only invalid tags: an ``I-x`` not following ``B-x``/``I-x`` becomes ``B-x``.
    """
    out = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def bio_to_spans(offsets: Sequence[tuple[int, int]], tags: Sequence[str]) -> tuple[Span, ...]:
    """Character spans of the entities in IOB2 ``tags``, given each word's ``(start, end)`` in the text."""
    spans: list[Span] = []
    for (start, end), tag in zip(offsets, tags, strict=True):
        if tag.startswith("I-") and spans and spans[-1].label == tag[2:]:
            spans[-1] = Span(spans[-1].start, end, spans[-1].label)
        elif tag != "O":
            spans.append(Span(start, end, tag[2:]))
    return tuple(spans)


@dataclass
class Resegmented:
    """An example's words from ``segmenter``, with its tags carried over (None when it had none).

    ``unaligned`` / ``inexact`` count spans as in :class:`distillx.text.segment.Alignment`: an inexact span
    starts or ends inside a new word, so its word-level version covers more text than the original.
    """

    text: str
    words: list[str]
    spans: tuple[Span, ...]
    tags: list[str] | None
    unaligned: int
    inexact: int


def resegment(example: Example, segmenter: Callable[[str], list[str]]) -> Resegmented:
    """Re-segment ``example`` and move its word-level ``slots`` (or its ``spans``) onto the new words.

    The text is the example's own, or rebuilt from its words (:func:`join_words`) when it has none.
    """
    text = example.text or join_words(example.words, example.language)
    spans = example.spans
    if example.slots is not None:
        spans = bio_to_spans(word_offsets(text, example.words), example.slots)
    words = segmenter(text)
    if example.slots is None and not spans:
        return Resegmented(text, words, spans, None, 0, 0)
    alignment = spans_to_bio(text, words, spans)
    return Resegmented(text, words, spans, alignment.tags, alignment.unaligned, alignment.inexact)


def resegment_examples(examples: Iterable[Example], segmenter: Callable[[str], list[str]]) -> Counter[str]:
    """Re-segment examples in place; returns how many ``examples`` and ``spans`` there were and how many
    spans ended ``inexact`` or ``unaligned``, for the run's log."""
    counts: Counter[str] = Counter()
    for ex in examples:
        result = resegment(ex, segmenter)
        ex.text, ex.words, ex.spans, ex.slots = result.text, result.words, result.spans, result.tags
        counts.update(examples=1, spans=len(result.spans), inexact=result.inexact, unaligned=result.unaligned)
    return counts
