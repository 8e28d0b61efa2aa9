"""CoNLL-2002 (Spanish, Dutch) and CoNLL-2003 (English; German dev/test via XGLUE) named entities."""

from __future__ import annotations

from functools import partial

from distillx.data.readers.base import BadRow, Lines, Reader
from distillx.data.schema import Example, Splits

# language -> (file per split, encoding, columns per line, tags in IOB1)
FILES = {
    "es": ({"train": "esp.train.gz", "dev": "esp.testa.gz", "test": "esp.testb.gz"}, "latin-1", 2, False),
    "nl": ({"train": "ned.train.gz", "dev": "ned.testa.gz", "test": "ned.testb.gz"}, "latin-1", 3, False),
    "en": ({"train": "eng.train.gz", "dev": "eng.testa.gz", "test": "eng.testb.gz"}, "ascii", 4, True),
    "de": (
        {"train": "deu_xglue/train.txt.gz", "dev": "deu_xglue/dev.txt.gz", "test": "deu_xglue/test.txt.gz"},
        "utf-8",
        2,
        True,
    ),
}
# Dutch files lost a character and the following space before the POS column in some words (byte 0x81):
# such lines have 2 columns; the word keeps the damage, the tag (last column) is intact.
_DAMAGE = "\x81"


class ConllDataset(Reader):
    """Sentences of ``word [POS [chunk]] tag`` lines; the tag is the last column. ``testa`` is ``dev``,
    ``testb`` ``test``; German train is XGLUE's 90% of the original dev (CoNLL-2003 German train is not
    available). IOB1 (English, German) is converted to IOB2. Named entities only: ``task=slots``."""

    name = "conll"
    title = "CoNLL-2002/2003 NER"
    languages = tuple(FILES)
    tasks = ("slots",)
    tag_field = "tag"

    def __init__(self, path: str | None = None, task: str = "slots", on_error: str = "raise") -> None:
        super().__init__(path, task, on_error, resegment=False)

    def read(self, language: str) -> Splits:
        files, encoding, columns, iob1 = FILES[language]
        return {
            split: self.parse_file(
                self.file(name), partial(self._sentence, language, split, columns, iob1), encoding=encoding, blocks=True
            )
            for split, name in files.items()
        }

    def _sentence(self, language: str, split: str, columns: int, iob1: bool, lines: Lines) -> Example | None:
        words, tags = [], []
        for lineno, line in lines:
            if line.startswith("-DOCSTART-"):
                continue
            cells = line.split(" ")
            if len(cells) != columns and not (len(cells) == 2 and _DAMAGE in cells[0]):
                raise BadRow("columns", "wrong column count", f"{len(cells)} instead of {columns}", lineno)
            words.append(cells[0])
            tags.append(cells[-1])
        if not words:
            return None
        return self.tagged(self.uid(language, split, lines[0][0]), language, words, tags, iob1=iob1)
