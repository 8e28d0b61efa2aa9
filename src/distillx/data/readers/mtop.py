"""MTOP (Li et al. 2021), flat version: raw utterances with ``[IN:x [SL:y value ] ]`` annotations, 6 languages.

The file has no BIO tags and its slot values use MTOP's own tokeniser (spaces inside Thai words, around
punctuation), so values are located in the utterance at character level, spaces ignored, and kept as
character :attr:`~distillx.data.schema.Example.spans`. Word-level tags are derived later over distillx's
segmentation with :func:`distillx.text.segment.spans_to_bio`.
"""

from __future__ import annotations

from functools import partial

import regex

from distillx.data.readers.base import BadRow, Lines, Reader, split_cells
from distillx.data.schema import Example, Span, Splits

SPLITS = {"train": "train", "dev": "eval", "test": "test"}
_WORD_CHAR = regex.compile(r"\w")


def parse_flat(flat: str) -> tuple[str, list[tuple[str, str]]]:
    """``[IN:GET_X [SL:A v w ] [SL:B u ] ]`` -> ``("GET_X", [("A", "v w"), ("B", "u")])``."""
    tokens = flat.split()
    if len(tokens) < 2 or not tokens[0].startswith("[IN:") or tokens[-1] != "]":
        raise BadRow("flat_representation", "not an [IN:... ] frame", flat[:80])
    slots: list[tuple[str, list[str]]] = []
    open_slot = False
    for token in tokens[1:-1]:
        if token.startswith("[SL:") and not open_slot:
            slots.append((token[4:], []))
            open_slot = True
        elif token == "]" and open_slot and slots[-1][1]:
            open_slot = False
        elif open_slot and not token.startswith("["):
            slots[-1][1].append(token)
        else:
            raise BadRow("flat_representation", "unexpected bracket or token outside a slot", token)
    if open_slot:
        raise BadRow("flat_representation", "unclosed slot", slots[-1][0])
    return tokens[0][4:], [(label, " ".join(words)) for label, words in slots]


def locate(text: str, values: list[tuple[str, str]]) -> tuple[Span, ...]:
    """Character spans of slot values in ``text``, comparing with all whitespace removed.

    Values are searched left to right from the end of the previous one (then anywhere), preferring an
    occurrence that starts and ends at word boundaries, so that ``me`` in "messaged me" is the last word.
    A value that cannot be found makes the row bad (counted in ``skipped`` under ``on_error=skip``).
    """
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]
    squeezed = "".join(text[i] for i in positions)
    spans = []
    cursor = 0
    for label, value in values:
        needle = "".join(value.split())
        found = _find(text, squeezed, positions, needle, cursor) or _find(text, squeezed, positions, needle, 0)
        if found is None:
            raise BadRow("flat_representation", "slot value not found in utterance", f"{label}: {value!r}")
        start, end, cursor = found
        # A value annotated twice but written once (translations that merged "a timer ... a timer") is one span.
        if Span(start, end, label) not in spans:
            spans.append(Span(start, end, label))
    return tuple(spans)


def _find(text: str, squeezed: str, positions: list[int], needle: str, cursor: int) -> tuple[int, int, int] | None:
    first = None
    at = squeezed.find(needle, cursor)
    while at >= 0:
        start, end = positions[at], positions[at + len(needle) - 1] + 1
        if _boundary(text, start) and _boundary(text, end):
            return start, end, at + len(needle)
        first = first or (start, end, at + len(needle))
        at = squeezed.find(needle, at + 1)
    return first


def _boundary(text: str, i: int) -> bool:
    return i in (0, len(text)) or not (_WORD_CHAR.match(text[i - 1]) and _WORD_CHAR.match(text[i]))


class MtopDataset(Reader):
    """Example.text is the raw utterance, ``spans`` the located slot values (``words`` stay empty: the
    pipeline segments). ``eval`` is read as ``dev``. Intents and slot labels lose their ``IN:``/``SL:``."""

    name = "mtop"
    title = "MTOP"
    languages = ("en", "de", "es", "fr", "hi", "th")

    def read(self, language: str) -> Splits:
        return {
            split: self.parse_file(
                self.file(f"{language}/{stem}.tsv.gz"), partial(self._row, language=language, split=split)
            )
            for split, stem in SPLITS.items()
        }

    def _row(self, lines: Lines, *, language: str, split: str) -> Example:
        lineno, line = lines[0]
        cells = split_cells(line, 5)
        utterance, flat, _nested, _domain, locale = cells
        if not locale.startswith(f"{language}_"):
            raise BadRow("locale", "locale of another language", locale)
        if not utterance.strip():
            raise BadRow("utterance", "empty utterance")
        intent, values = parse_flat(flat)
        spans = locate(utterance, values) if self.wants_slots else ()
        return Example(
            self.uid(language, split, lineno), language, utterance, intent if self.wants_intent else None, spans
        )
