"""Reader for the embedded demo dataset shipped in ``distillx/data/demo/`` (see its README.md)."""

from __future__ import annotations

import gzip
import json
from importlib.resources import files
from pathlib import Path

from distillx.data.schema import Example, Span, Splits
from distillx.errors import DistillxError

LANGUAGES = ("en", "de", "es", "fr", "hi", "zh", "ja", "th")


class DemoDataset:
    """Template-generated intent + slot utterances, parallel across languages (same id = same meaning)."""

    name = "demo"
    parallel = True

    def __init__(self, task: str = "intent", path: str | None = None) -> None:
        if task not in ("intent", "slots", "both"):
            raise DistillxError(f"dataset.task={task!r}: choose intent, slots or both")
        self.task = task
        self.root = Path(path) if path else Path(str(files("distillx.data") / "demo"))
        self.languages = LANGUAGES

    def load(self, language: str) -> Splits:
        if language not in self.languages:
            raise DistillxError(
                f"language={language}: the demo dataset has no {language!r}; choose one of {', '.join(self.languages)}"
            )
        path = self.root / f"{language}.jsonl.gz"
        if not path.exists():
            raise DistillxError(f"{path}: demo data file missing; reinstall distillx or set dataset.path")
        splits: Splits = {}
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                try:
                    row = json.loads(line)
                    example = Example(
                        id=row["id"],
                        language=row["language"],
                        text=row["text"],
                        intent=row["intent"],
                        spans=tuple(Span(int(s), int(e), str(label)) for s, e, label in row["spans"]),
                    )
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                    raise DistillxError(f"{path}:{lineno}: malformed demo record ({err})") from None
                splits.setdefault(row["split"], []).append(example)
        return splits
