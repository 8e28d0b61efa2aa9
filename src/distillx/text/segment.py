"""Word segmenters (one per writing system) and character-span to word-level BIO alignment.

Every segmenter is a small picklable callable ``text -> list[str]`` so that Hydra can build it from
``_target_`` alone and worker processes can receive it; heavy taggers are created lazily on first use
and left out of the pickle state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# ``regex`` (not stdlib ``re``): its ``\w`` covers combining marks (Devanagari matras, viramas) and the
# zero-width (non-)joiners, which stdlib ``re`` splits words on. It is a dependency of transformers.
import regex

from distillx.data.schema import Span
from distillx.errors import DistillxError

# A word is a run of letters/digits/marks; any other visible character is a token of its own.
# Format characters (zero-width space, bidi marks) outside words are dropped like whitespace.
_WORD_OR_PUNCT = regex.compile(r"\w+|[^\w\s\p{Cf}]")


class UnicodeSegmenter:
    """Space-delimited scripts (en, de, es, fr, hi...): words, and one token per punctuation mark."""

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def __call__(self, text: str) -> list[str]:
        words = _WORD_OR_PUNCT.findall(text)
        return [w.lower() for w in words] if self.lowercase else words


class _LazySegmenter:
    """Base for segmenters backed by a library object that is slow to build or cannot be pickled."""

    _backend: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_backend", None)
        return state

    def _load(self) -> Any:
        raise NotImplementedError

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = self._load()
        return self._backend


class JiebaSegmenter(_LazySegmenter):
    """Chinese: jieba's default dictionary with HMM discovery of unknown words."""

    def __init__(self, hmm: bool = True) -> None:
        self.hmm = hmm

    def _load(self) -> Any:
        import jieba

        jieba.setLogLevel(logging.WARNING)  # otherwise four lines of dictionary-loading chatter on stderr
        return jieba

    def __call__(self, text: str) -> list[str]:
        return [w for w in self.backend.lcut(text, HMM=self.hmm) if w.strip()]


class MecabSegmenter(_LazySegmenter):
    """Japanese: MeCab (fugashi) with the unidic-lite dictionary; words are the surface forms."""

    def _load(self) -> Any:
        import fugashi

        try:
            return fugashi.Tagger()
        except RuntimeError as e:
            raise DistillxError(
                f"MeCab failed ({str(e).splitlines()[0]}): install unidic-lite (pip install unidic-lite)"
            ) from None

    def __call__(self, text: str) -> list[str]:
        # MeCab emits an ideographic space (U+3000) as a token of its own.
        return [w.surface for w in self.backend(text) if w.surface.strip()]


class ThaiSegmenter(_LazySegmenter):
    """Thai: PyThaiNLP's dictionary-based maximal matching (``newmm``)."""

    def _load(self) -> Any:
        from pythainlp.tokenize import word_tokenize

        return word_tokenize

    def __call__(self, text: str) -> list[str]:
        words = self.backend(text, engine="newmm", keep_whitespace=False)
        # keep_whitespace=False drops only spaces: newlines, tabs and U+3000 still come back as tokens.
        return [w for w in words if w.strip()]


@dataclass
class Alignment:
    """Word-level IOB2 tags for one utterance, and how well its character spans fitted the words.

    ``unaligned``: spans that no word received (empty, out of range, or every overlapping word taken by
    another span). ``inexact``: aligned spans whose start or end falls strictly inside a word, so their
    word-level version covers more text than the original span.
    """

    tags: list[str]
    unaligned: int
    inexact: int


def word_offsets(text: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each word, found left to right (whatever a segmenter dropped is skipped).

    A lower-cased word is matched case-insensitively when lower-casing keeps the text's length.
    """
    lowered = text.lower()
    fallback = lowered if len(lowered) == len(text) else None
    offsets = []
    pos = 0
    for word in words:
        start = text.find(word, pos)
        if start < 0 and fallback is not None:
            start = fallback.find(word, pos)
        if start < 0 or not word:
            raise DistillxError(
                f"word {word!r} is not in the text {text!r} after position {pos}: the segmenter changed it; "
                "use a segmenter that returns words as substrings of the text"
            )
        pos = start + len(word)
        offsets.append((start, pos))
    return offsets


def spans_to_bio(text: str, words: Sequence[str], spans: Sequence[Span]) -> Alignment:
    """Tag words B-x/I-x/O from character spans (slot values, entities) by character overlap.

    A word overlapping several spans takes the one it overlaps most (the earlier on ties); the first word
    of a span gets B-, the following ones I-.
    """
    offsets = word_offsets(text, words)
    owner: list[int | None] = []
    for ws, we in offsets:
        best, best_overlap = None, 0
        for k, span in enumerate(spans):
            overlap = min(we, span.end) - max(ws, span.start)
            if overlap > best_overlap:
                best, best_overlap = k, overlap
        owner.append(best)

    tags = []
    for i, k in enumerate(owner):
        if k is None:
            tags.append("O")
        else:
            prefix = "I" if i > 0 and owner[i - 1] == k else "B"
            tags.append(f"{prefix}-{spans[k].label}")

    unaligned = inexact = 0
    for k, span in enumerate(spans):
        if k not in owner:
            unaligned += 1
        elif any(ws < b < we for ws, we in offsets for b in (span.start, span.end)):
            inexact += 1
    return Alignment(tags, unaligned, inexact)


def bio_is_valid(tags: Sequence[str]) -> bool:
    """IOB2 check: every I-x directly follows B-x or I-x of the same label."""
    prev = "O"
    for tag in tags:
        if tag != "O" and (tag[:2] not in ("B-", "I-") or len(tag) == 2):
            return False
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            return False
        prev = tag
    return True
