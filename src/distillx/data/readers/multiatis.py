"""MultiATIS++ (Xu et al. 2020, + Hindi/Turkish ATIS): intent and slot BIO, 9 languages, one TSV per split."""

from __future__ import annotations

from functools import partial

from distillx.data.readers.base import BadRow, Lines, Reader, header_line, split_cells
from distillx.data.schema import Example, Splits
from distillx.errors import DistillxError

HEADER = "id\tutterance\tslot_labels\tintent"
_SPLITS = ("train", "dev", "test")
# Hindi and Turkish come from another corpus: their ids do not name the same utterance as the others'.
_OWN_IDS = ("hi", "tr")


def intent_label(raw: str, policy: str) -> str:
    """Multi-intent labels come as ``atis_flight#atis_airfare`` (or, in HI/TR, ``atis_flight airfare``).

    ``first`` keeps the first intent: every first intent is also an intent of its own in training data, so
    the label set stays the 23 atomic ATIS intents and the languages share it. ``joined`` keeps the
    combination as a class of its own, normalised to the ``#`` form so that HI/TR agree with the others.
    """
    parts = [p if p.startswith("atis_") else f"atis_{p}" for p in raw.replace("#", " ").split()]
    return parts[0] if policy == "first" else "#".join(parts)


class MultiAtisDataset(Reader):
    """Words and BIO tags come from the file (space-separated; ZH/JA words are the file's runs, which the
    pipeline re-segments when ``resegment``). Rows whose word and tag counts differ (SOURCE.md lists 286)
    are bad rows when slots are read; with ``task=intent`` the tags are not read and every row is kept."""

    name = "multiatis"
    title = "MultiATIS++"
    languages = ("en", "de", "es", "fr", "hi", "ja", "pt", "tr", "zh")
    tag_field = "slot_labels"

    def __init__(
        self,
        path: str | None = None,
        task: str = "intent",
        on_error: str = "raise",
        resegment: bool = True,
        multi_intent: str = "first",
    ) -> None:
        super().__init__(path, task, on_error, resegment)
        if multi_intent not in ("first", "joined"):
            raise DistillxError(f"dataset.multi_intent={multi_intent!r}: choose first or joined")
        self.multi_intent = multi_intent

    def read(self, language: str) -> Splits:
        splits: Splits = {}
        for split in _SPLITS:
            path = self.file(f"{split}_{language.upper()}.tsv")
            first = header_line(path)
            if first != HEADER:
                raise DistillxError(f"{path}:1: header: expected {HEADER!r}, found {first[:80]!r}")
            parse = partial(self._row, language=language, split=split, seen=set())
            splits[split] = self.parse_file(path, parse, header=True)
        return splits

    def _row(self, lines: Lines, *, language: str, split: str, seen: set[str]) -> Example:
        lineno, line = lines[0]
        cells = split_cells(line, 4, hint=f": {HEADER!r}")
        key, utterance, tags, intent = cells
        # str.split(): the French and Spanish files separate some words with no-break spaces.
        words = utterance.split()
        if not words:
            raise BadRow("utterance", "empty utterance")
        if not intent.strip():
            raise BadRow("intent", "empty intent")
        # HI has 223 repeated ids in train; HI/TR ids are not the others' ids. Both get the line number.
        uid = f"{language}:{split}:{lineno}" if language in _OWN_IDS or key in seen else f"{split}:{key}"
        seen.add(key)
        label = intent_label(intent, self.multi_intent) if self.wants_intent else None
        return self.tagged(uid, language, words, tags.split(), label)
