"""Your own data, in a directory with one file per language: ``<language>.jsonl`` or ``<language>.tsv``.

Files are UTF-8, optionally gzip-compressed (``.jsonl.gz``, ``.tsv.gz``); the file name is the language
code, which needs a ``conf/language/<code>.yaml``.

**JSON lines**, one object per line::

    {"id": "7", "split": "train", "text": "wake me at 7 am", "intent": "set_alarm", "spans": [[11, 15, "time"]]}
    {"id": "8", "split": "test", "words": ["wake", "me", "at", "7"], "slots": ["O", "O", "O", "B-time"],
     "intent": "set_alarm"}

- ``id`` (required): unique within the file; with ``parallel: true`` the same id in two languages means
  the same utterance translated.
- ``split`` (required): ``train``, ``dev`` or ``test`` (``validation``, ``valid``, ``eval``, ``testa`` and
  ``testb`` are accepted).
- ``text`` and/or ``words``: raw text, or its words (then the text is rebuilt: joined by spaces, or without
  for zh/ja/th); with both, the words must occur in the text in order.
- ``intent``: the sentence label, required when ``task`` is ``intent`` or ``both``.
- ``spans`` (``[[start, end, label], ...]`` character offsets into ``text``) or ``slots`` (one IOB2 tag per
  word): required, possibly empty, when ``task`` is ``slots`` or ``both``.
- ``language`` (optional): must equal the file's language.

**TSV**: a header line naming the columns, among ``id split text words intent slots``; ``words`` and
``slots`` are space-separated. No quoting: fields must not contain tabs or line breaks.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from distillx.data.readers.base import TASKS, BadRow, Lines, Reader, header_line, split_cells
from distillx.data.schema import Example, Span, Splits
from distillx.errors import DistillxError
from distillx.text.retag import join_words
from distillx.text.segment import word_offsets

SPLITS = {
    "train": "train",
    "dev": "dev",
    "validation": "dev",
    "valid": "dev",
    "eval": "dev",
    "testa": "dev",
    "test": "test",
    "testb": "test",
}
SUFFIXES = (".jsonl", ".jsonl.gz", ".tsv", ".tsv.gz")
TSV_COLUMNS = ("id", "split", "text", "words", "intent", "slots")


class CustomDataset(Reader):
    """See the module docstring for the formats. ``resegment`` defaults to false: your words are kept."""

    name = "custom"
    title = "your data (see conf/dataset/custom.yaml)"
    tasks = TASKS
    tag_field = "slots"

    def __init__(
        self,
        path: str | None = None,
        task: str = "intent",
        on_error: str = "raise",
        resegment: bool = False,
        parallel: bool = False,
    ) -> None:
        super().__init__(path, task, on_error, resegment)
        self.parallel = parallel
        self.files: dict[str, Path] = {}
        for file in sorted(self.root.iterdir()):
            suffix = next((s for s in SUFFIXES if file.name.endswith(s)), None)
            if suffix is None:
                continue
            language = file.name.removesuffix(suffix)
            if language in self.files:
                raise DistillxError(f"{file}: a second file for language {language!r}; keep one")
            self.files[language] = file
        if not self.files:
            raise DistillxError(
                f"dataset.path={path}: no <language>.jsonl or <language>.tsv files (optionally .gz) there"
            )
        self.languages = tuple(self.files)

    def read(self, language: str) -> Splits:
        path = self.files[language]
        seen: set[str] = set()
        if ".tsv" in path.suffixes:
            columns = header_line(path).split("\t")
            unknown = sorted(set(columns) - set(TSV_COLUMNS))
            if unknown or len(set(columns)) != len(columns):
                raise DistillxError(
                    f"{path}:1: header: columns must be distinct names among {', '.join(TSV_COLUMNS)}; "
                    f"found {', '.join(columns)}"
                )
            parse = partial(self._tsv_row, language, columns, seen)
            examples = self.parse_file(path, parse, header=True)
        else:
            examples = self.parse_file(path, partial(self._json_row, language, seen))
        splits: Splits = {}
        for split, example in examples:
            splits.setdefault(split, []).append(example)
        return splits

    def _json_row(self, language: str, seen: set[str], lines: Lines) -> tuple[str, Example]:
        try:
            record = json.loads(lines[0][1])
        except json.JSONDecodeError as err:
            raise BadRow("json", "not valid JSON", str(err)) from None
        if not isinstance(record, dict):
            raise BadRow("json", "not a JSON object")
        return self._example(language, seen, record)

    def _tsv_row(self, language: str, columns: list[str], seen: set[str], lines: Lines) -> tuple[str, Example]:
        cells = split_cells(lines[0][1], len(columns))
        record: dict[str, Any] = dict(zip(columns, cells, strict=True))
        for key in ("words", "slots"):
            if key in record:
                record[key] = record[key].split()
        return self._example(language, seen, record)

    def _example(self, language: str, seen: set[str], record: dict[str, Any]) -> tuple[str, Example]:
        key = str(_field(record, "id", (str, int)))
        if key in seen:
            raise BadRow("id", "duplicate id", key)
        seen.add(key)
        split = SPLITS.get(_field(record, "split", str))
        if split is None:
            raise BadRow("split", "unknown split", f"{record['split']!r}; use train, dev or test")
        if record.get("language", language) != language:
            raise BadRow("language", "language differs from the file's", str(record["language"]))
        uid = self.uid(language, split, key)
        intent = _field(record, "intent", str) if self.wants_intent else None
        text = _field(record, "text", str, required="words" not in record)
        words = _field(record, "words", list, required="text" not in record)
        if words is not None and not all(isinstance(w, str) and w.strip() for w in words):
            raise BadRow("words", "empty or non-string word")
        try:
            if self.wants_slots and "slots" in record:
                if words is None:
                    raise BadRow("slots", "slots without words", "slots tag words: give words too")
                tags = _field(record, "slots", list)
                return split, self.tagged(uid, language, words, [str(t) for t in tags], intent, text=text)
            if text is None:
                text = join_words(words, language)
            elif words is not None:
                word_offsets(text, words)
        except DistillxError as err:  # from word_offsets: a word is not in the text
            raise BadRow("words", "words not in the text in order", str(err)) from None
        spans = _spans(_field(record, "spans", list), text) if self.wants_slots else ()
        return split, Example(uid, language, text, intent, spans, words or [])


def _field(record: dict[str, Any], key: str, types: type | tuple[type, ...], required: bool = True) -> Any:
    if key not in record:
        if required:
            raise BadRow(key, "missing field")
        return None
    value = record[key]
    if not isinstance(value, types):
        raise BadRow(key, "wrong type", f"{value!r}")
    if value in ("", []) and key not in ("spans", "slots"):  # no spans or slots is fine: nothing to tag
        raise BadRow(key, "empty field")
    return value


def _spans(raw: list[Any], text: str) -> tuple[Span, ...]:
    spans = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], str)):
            raise BadRow("spans", "malformed span", f"{item!r} is not [start, end, label]")
        start, end, label = item
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise BadRow("spans", "span out of range", f"{item!r} for a text of {len(text)} characters")
        spans.append(Span(start, end, label))
    return tuple(spans)
