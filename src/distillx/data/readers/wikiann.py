"""WikiANN / PAN-X (XTREME splits of Rahimi et al. 2019): named entities (PER, ORG, LOC) in 47 languages."""

from __future__ import annotations

from functools import partial

from distillx.data.readers.base import BadRow, Lines, Reader
from distillx.data.schema import Example, Splits

# Languages with labeled train and dev (th has only an unlabeled test and is left out).
LANGUAGES = (
    "af",
    "ar",
    "az",
    "bg",
    "bn",
    "de",
    "el",
    "en",
    "es",
    "et",
    "eu",
    "fa",
    "fi",
    "fr",
    "gu",
    "he",
    "hi",
    "hu",
    "id",
    "it",
    "ja",
    "jv",
    "ka",
    "kk",
    "ko",
    "lt",
    "ml",
    "mr",
    "ms",
    "my",
    "nl",
    "pa",
    "pl",
    "pt",
    "qu",
    "ro",
    "ru",
    "sw",
    "ta",
    "te",
    "tl",
    "tr",
    "uk",
    "ur",
    "vi",
    "yo",
    "zh",
)
# Languages with a labeled test file; the others use their dev file as test.
LABELED_TEST = frozenset(
    ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "nl", "pt", "ru", "sw", "tr", "ur", "vi", "zh")
)
# zh and ja are tokenised into characters: their text is the characters joined.
_CHARACTERS = frozenset({"zh", "ja"})


class WikiannDataset(Reader):
    """Sentences of ``token<TAB>tag`` lines. ``test`` is the labeled test where one exists (16 languages),
    else the dev file again (same examples). Tags are IOB2; the zh/ja files have stray ``I-`` tags after an
    ``O`` (a ``#`` standing for a space inside a name), made ``B-`` and counted in :attr:`repaired`.
    Named entities only: ``task=slots``."""

    name = "wikiann"
    title = "WikiANN (PAN-X)"
    languages = LANGUAGES
    tasks = ("slots",)
    tag_field = "tag"

    def __init__(
        self, path: str | None = None, task: str = "slots", on_error: str = "raise", resegment: bool = True
    ) -> None:
        super().__init__(path, task, on_error, resegment)

    def test_is_dev(self, language: str) -> bool:
        return language not in LABELED_TEST

    def read(self, language: str) -> Splits:
        splits = {split: self._file(language, split) for split in ("train", "dev")}
        splits["test"] = self._file(language, "test") if language in LABELED_TEST else list(splits["dev"])
        return splits

    def _file(self, language: str, split: str) -> list[Example]:
        path = self.file(f"{split}-{language}.tsv.gz")
        return self.parse_file(path, partial(self._sentence, language, split), blocks=True)

    def _sentence(self, language: str, split: str, lines: Lines) -> Example:
        words, tags = [], []
        for lineno, line in lines:
            cells = line.split("\t")
            if len(cells) != 2:
                raise BadRow("columns", "wrong column count", f"{len(cells)} instead of 2 (token, tag)", lineno)
            words.append(cells[0])
            tags.append(cells[1])
        uid = self.uid(language, split, lines[0][0])
        return self.tagged(uid, language, words, tags, chars=language in _CHARACTERS)
