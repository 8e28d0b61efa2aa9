"""What every benchmark reader shares: path and option checks, tolerant or strict row parsing, skip counts.

A reader turns one language's files into :data:`~distillx.data.schema.Splits`. Rows that cannot become an
example raise :class:`BadRow`; :meth:`Reader.parse_file` turns that into a one-line
:class:`~distillx.errors.DistillxError` naming file, line and field (``on_error=raise``) or counts it in
:attr:`Reader.skipped` (``on_error=skip``), so that no row disappears silently.
"""

from __future__ import annotations

import gzip
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

import regex

from distillx.data.schema import Example, Splits
from distillx.errors import DistillxError
from distillx.text.retag import bio_to_spans, join_words, to_iob2
from distillx.text.segment import word_offsets

log = logging.getLogger(__name__)

TASKS = ("intent", "slots", "both")
Lines = list[tuple[int, str]]
"""One record of a file: its lines with their 1-based line numbers (one line for TSV, a block for CoNLL)."""

T = TypeVar("T")
_TAG = regex.compile(r"O|[BI]-\S+")


class BadRow(Exception):
    """A record that cannot become an example: the field at fault, a short reason (the skip-count key) and
    details for the error message. ``line`` overrides the record's first line when the fault is further in."""

    def __init__(self, field: str, reason: str, detail: str = "", line: int | None = None) -> None:
        super().__init__(reason)
        self.field, self.reason, self.detail, self.line = field, reason, detail, line


def choose(key: str, value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise DistillxError(f"{key}={value!r}: {what} supports {', '.join(allowed)}")
    return value


def split_cells(line: str, count: int, sep: str = "\t", hint: str = "", line_no: int | None = None) -> list[str]:
    """The ``count`` fields of one record line, or a BadRow naming the column count (``hint`` lists them)."""
    cells = line.split(sep)
    if len(cells) != count:
        detail = f"{len(cells)} instead of {count}" + (f" {hint}" if hint else "")
        raise BadRow("columns", "wrong column count", detail, line_no)
    return cells


def check_tags(tags: Sequence[str], field: str) -> None:
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise BadRow(field, "malformed BIO tag", f"{tag!r} is neither O nor B-x/I-x")


class Reader:
    """Base of the benchmark readers. Subclasses set the class attributes and implement :meth:`read`."""

    name: str
    title: str
    """The dataset as people call it, for messages."""
    languages: tuple[str, ...]
    parallel = False
    """True when the same id in two languages is the same utterance translated."""
    tasks: tuple[str, ...] = TASKS
    tag_field = "tags"
    """The name of the BIO tag column in the files, for messages."""

    def __init__(
        self, path: str | None = None, task: str = "intent", on_error: str = "raise", resegment: bool = True
    ) -> None:
        if not path:
            raise DistillxError(f"dataset.path is not set: point dataset.path at your copy of {self.title}")
        self.root = Path(path).expanduser()
        if not self.root.is_dir():
            raise DistillxError(
                f"dataset.path={path}: directory not found; point dataset.path at your copy of {self.title}"
            )
        self.task = choose("dataset.task", task, self.tasks, self.title)
        self.on_error = choose("dataset.on_error", on_error, ("raise", "skip"), "distillx")
        self.resegment = resegment
        self.skipped: dict[str, int] = {}
        """Rows left out, by ``"<dataset>/<file>: <reason>"``: for the run's log and MLflow."""
        self.repaired: dict[str, int] = {}
        """Rows kept after a repair (a stray ``I-x`` made ``B-x``), keyed like :attr:`skipped`."""
        self._repairs: Counter[str] = Counter()

    @property
    def wants_intent(self) -> bool:
        return self.task in ("intent", "both")

    @property
    def wants_slots(self) -> bool:
        return self.task in ("slots", "both")

    def load(self, language: str) -> Splits:
        if language not in self.languages:
            raise DistillxError(
                f"language={language}: {self.title} has no {language!r}; choose one of {', '.join(self.languages)}"
            )
        return self.read(language)

    def read(self, language: str) -> Splits:
        raise NotImplementedError

    def test_is_dev(self, language: str) -> bool:
        """True where the copy has no test split for ``language`` and ``test`` is its dev set again: results
        scored on it must say so."""
        return False

    def uid(self, language: str, split: str, key: str | int) -> str:
        """Parallel datasets share ids across languages; the others prefix the language so ids never collide."""
        return f"{split}:{key}" if self.parallel else f"{language}:{split}:{key}"

    def file(self, relative: str) -> Path:
        path = self.root / relative
        if not path.is_file():
            raise DistillxError(f"{path}: file not found; is dataset.path={self.root} a complete copy of {self.title}?")
        return path

    def parse_file(
        self,
        path: Path,
        parse: Callable[[Lines], T | None],
        *,
        encoding: str = "utf-8",
        blocks: bool = False,
        header: bool = False,
    ) -> list[T]:
        """Parse every record of ``path`` (a line, or a blank-line separated block when ``blocks``).

        ``parse`` returns what the reader makes of a record (an example), None for a record to ignore (e.g. a
        CoNLL ``-DOCSTART-``), or raises :class:`BadRow`. An empty file is always an error: skipping it would
        leave a split silently empty.
        """
        key = f"{self.name}/{path.relative_to(self.root).as_posix()}"
        self._repairs = Counter()
        skipped: Counter[str] = Counter()
        examples: list[T] = []
        records = 0
        for record in _records(path, blocks, header):
            records += 1
            try:
                example = parse(_decode(record, encoding))
            except BadRow as bad:
                if self.on_error == "raise":
                    detail = f" ({bad.detail})" if bad.detail else ""
                    raise DistillxError(
                        f"{path}:{bad.line or record[0][0]}: {bad.field}: {bad.reason}{detail}; "
                        "fix the row or set dataset.on_error=skip"
                    ) from None
                skipped[bad.reason] += 1
                continue
            if example is not None:
                examples.append(example)
        if not records:
            raise DistillxError(f"{path}: empty file (no data rows{' after the header' if header else ''})")
        self._report(key, skipped, self.skipped, "skipped")
        self._report(key, self._repairs, self.repaired, "repaired")
        return examples

    def _report(self, key: str, counts: Counter[str], into: dict[str, int], verb: str) -> None:
        # Assigned, not added: reading a file twice must not double its counts.
        into.update({f"{key}: {reason}": n for reason, n in counts.items()})
        if counts:
            summary = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
            log.warning("%s: %s %d rows: %s", key, verb, sum(counts.values()), summary)

    def tagged(
        self,
        uid: str,
        language: str,
        words: list[str],
        tags: list[str],
        intent: str | None = None,
        *,
        iob1: bool = False,
        text: str | None = None,
        chars: bool = False,
    ) -> Example:
        """An example from pre-tokenised words with word-level tags: IOB2 tags, the text, and char spans.

        ``iob1`` converts CoNLL-2003's IOB1; otherwise an ``I-x`` that starts an entity (invalid IOB2, found
        in some files) is made ``B-x`` and counted in :attr:`repaired`. ``text`` defaults to the words joined
        as the language writes them (see :func:`distillx.text.retag.join_words`).
        """
        text = text if text is not None else join_words(words, language, chars=chars)
        if not self.wants_slots:
            return Example(uid, language, text, intent=intent, words=words)
        check_tags(tags, self.tag_field)
        if len(tags) != len(words):
            raise BadRow(self.tag_field, "tags/words count mismatch", f"{len(tags)} tags for {len(words)} words")
        iob2 = to_iob2(tags)
        spans = bio_to_spans(word_offsets(text, words), iob2)
        if not iob1 and iob2 != tags:
            self._repairs["I- tag starting an entity, made B-"] += 1
        return Example(uid, language, text, intent=intent, spans=spans, words=words, slots=iob2)


def header_line(path: Path) -> str:
    """The first line of a file with a header, which decides how the rest is read."""
    with _open(path) as fh:
        raw = fh.readline().rstrip(b"\r\n")
    if not raw.strip():
        raise DistillxError(f"{path}:1: header: empty file or empty header line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DistillxError(f"{path}:1: header: not valid utf-8") from None


@contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            yield fh
    except (gzip.BadGzipFile, EOFError) as err:
        raise DistillxError(f"{path}: not a readable gzip file ({err}); copy it again") from None


def _records(path: Path, blocks: bool, header: bool) -> Iterator[list[tuple[int, bytes]]]:
    """Raw records: each line, or each run of non-blank lines when ``blocks``; decoding is left to the caller
    so that undecodable bytes fail (or skip) one record, with their line number."""
    with _open(path) as fh:
        numbered = enumerate((raw.rstrip(b"\r\n") for raw in fh), 1)
        if header:
            next(numbered, None)
        if not blocks:
            yield from ([item] for item in numbered)
            return
        block: list[tuple[int, bytes]] = []
        for lineno, raw in numbered:
            if raw.strip():
                block.append((lineno, raw))
            elif block:
                yield block
                block = []
        if block:
            yield block


def _decode(record: list[tuple[int, bytes]], encoding: str) -> Lines:
    lines = []
    for lineno, raw in record:
        try:
            lines.append((lineno, raw.decode(encoding)))
        except UnicodeDecodeError as err:
            raise BadRow(
                "bytes", f"not valid {encoding}", f"byte 0x{raw[err.start]:02x} at column {err.start + 1}", lineno
            ) from None
    return lines
