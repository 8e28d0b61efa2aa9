"""MASSIVE (FitzGerald et al. 2023), 6-locale subset: intent and slot BIO, row-parallel across languages."""

from __future__ import annotations

from functools import partial

from distillx.data.readers.base import BadRow, Lines, Reader, split_cells
from distillx.data.schema import Example, Splits


class MassiveDataset(Reader):
    """Rows are ``tokens, intent, bio_tags, scenario, locale``. The copy has no test split: ``test`` is the
    dev file again (same examples). Ids are ``<split>:<line>``, equal across languages because the files
    are row-aligned. Thai tokens are cut only at slot boundaries, so Thai text is the tokens joined and
    the pipeline re-segments it when ``resegment``."""

    name = "massive"
    title = "MASSIVE"
    languages = ("en", "de", "es", "fr", "hi", "th")
    parallel = True
    tag_field = "bio_tags"

    def test_is_dev(self, language: str) -> bool:
        return True

    def read(self, language: str) -> Splits:
        splits = {
            split: self.parse_file(self.file(f"{language}/{split}.tsv"), partial(self._row, language, split))
            for split in ("train", "dev")
        }
        splits["test"] = list(splits["dev"])
        return splits

    def _row(self, language: str, split: str, lines: Lines) -> Example:
        lineno, line = lines[0]
        cells = split_cells(line, 5)
        tokens, intent, tags, _scenario, locale = cells
        if not locale.startswith(f"{language}-"):
            raise BadRow("locale", "locale of another language", locale)
        words = tokens.split()
        if not words:
            raise BadRow("tokens", "empty utterance")
        if not intent:
            raise BadRow("intent", "empty intent")
        return self.tagged(
            self.uid(language, split, lineno), language, words, tags.split(), intent if self.wants_intent else None
        )
