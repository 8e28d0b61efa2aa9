"""Rule-based machine translation through Apertium (Forcada et al. 2011), installed from Debian packages: the one
real MT system this project can run offline (no neural model can be downloaded). Paraphrases (§2.3.2) are round
trips through a pivot language (es -> en -> es), since a rule-based engine has nothing to sample from.

A corpus goes through one ``apertium`` process per direction in null-flush mode: each utterance is its own
NUL-terminated chunk in Apertium's stream format, so the engine cannot merge or split utterances (on plain text it
moves words across line breaks: "New\\nYork" comes out as "York\\nNuevo").
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Sequence
from itertools import pairwise

from distillx.data.schema import Example
from distillx.errors import DistillxError
from distillx.translate.base import paraphrase_id, source_texts, unlabelled

log = logging.getLogger(__name__)

CODES = {"en": "eng", "es": "spa", "ca": "cat", "gl": "glg", "pt": "por", "fr": "fra"}
"""ISO 639-1 codes and Apertium's ISO 639-3 ones; a mode is named by either (``eng-spa``, ``en-gl``)."""
PACKAGES = {
    frozenset(("en", "es")): "apertium-eng-spa",
    frozenset(("en", "ca")): "apertium-eng-cat",
    frozenset(("en", "gl")): "apertium-en-gl",
    frozenset(("es", "gl")): "apertium-es-gl",
    frozenset(("es", "pt")): "apertium-es-pt",
    frozenset(("es", "ca")): "apertium-spa-cat",
}
"""The Debian package of each pair (both directions), for the install hint of a missing one."""
MAKE_INSTALLS = "apertium-eng-spa"
"""The pair that ``make apertium`` installs."""
SPECIAL = re.compile(r"([\\\[\]^$/<>@{}])")
"""Characters that Apertium's stream format reserves, escaped with a backslash as ``apertium-destxt`` does."""
LETTER = re.compile(r"[^\W\d_]")
"""A letter: an utterance's first one says whether it is lower-cased."""
END = ".[]"
"""What ``apertium-destxt`` appends to a text (a sentence end and an empty blank) and ``apertium-retxt`` removes."""


class ApertiumTranslator:
    """Translates with the installed Apertium modes and paraphrases by a round trip through ``pivot``.

    ``languages`` (the run's source and target) are checked at construction: every direction between them and
    each one's round trip through ``pivot`` must be installed, so a missing pair stops the run with one line as soon
    as the translator is built rather than after a stage that translates has started.
    """

    oracle = False

    def __init__(
        self,
        languages: Sequence[str] = (),
        pivot: str = "en",
        mark_unknown: bool = False,
        name: str = "apertium (rule-based MT)",
    ) -> None:
        if shutil.which("apertium") is None:
            raise DistillxError(
                "translator=apertium: the apertium program is not installed; run `make apertium` (as root: "
                f"apt-get install apertium {MAKE_INSTALLS})"
            )
        self.pivot = pivot
        self.mark_unknown = mark_unknown
        self.name = name
        listed = subprocess.run(["apertium", "-l"], capture_output=True, text=True, check=False).stdout
        self.modes = set(listed.split())
        needed = {(a, b) for a in languages for b in {*languages, pivot} if a != b}
        for source, target in sorted(needed | {(b, a) for a, b in needed}):
            self.mode(source, target)

    def mode(self, source: str, target: str) -> str:
        """The installed mode translating ``source`` into ``target``, or a one-line error naming its package."""
        names = [f"{a}-{b}" for a in (source, CODES.get(source, source)) for b in (target, CODES.get(target, target))]
        found = next((name for name in names if name in self.modes), None)
        if found is not None:
            return found
        package = PACKAGES.get(frozenset((source, target)))
        hint = f"it with `apt-get install {package}`" if package else "the pair's package (`apt-cache search apertium`)"
        if package == MAKE_INSTALLS:
            hint += " or `make apertium`"
        raise DistillxError(
            f"translator=apertium: no Apertium {source}->{target} mode is installed (installed: "
            f"{', '.join(sorted(self.modes)) or 'none'}); install {hint}"
        )

    # ------------------------------------------------------------------ the Translator protocol
    def translate(self, examples: list[Example], source: str, target: str) -> list[Example]:
        """One translation per input: texts and second sentences go through one ``apertium`` process."""
        outputs = self._through(examples, source, [target])
        return [unlabelled(ex, target, text, pair) for ex, (text, pair) in zip(examples, outputs, strict=True)]

    def paraphrase(self, examples: list[Example], language: str, n: int) -> list[Example]:
        """The round trip ``language`` -> ``pivot`` -> ``language`` of each input (id ``<id>~p0``): deterministic,
        so there is one paraphrase per input."""
        if n != 1:
            raise DistillxError(
                f"paraphrase count n={n}: an Apertium round trip is deterministic, one paraphrase per utterance; "
                "set augmentation.n=1"
            )
        if language == self.pivot:
            raise DistillxError(
                f"translator=apertium paraphrases {language} by a round trip through translator.pivot={self.pivot}; "
                "set translator.pivot to another installed language"
            )
        outputs = self._through(examples, language, [self.pivot, language])
        return [
            unlabelled(ex, language, text, pair, uid=paraphrase_id(ex.id, 0))
            for ex, (text, pair) in zip(examples, outputs, strict=True)
        ]

    def _through(self, examples: list[Example], language: str, legs: list[str]) -> list[tuple[str, str | None]]:
        """Each input's text and second sentence translated from ``language`` through ``legs`` in turn, one process
        per leg; the pivot of a round trip keeps Apertium's casing (it does not read a lower-case "i" as "I")."""
        texts, pairs = source_texts(examples, language)
        inputs = texts + [p for p in pairs if p is not None]
        outputs = inputs
        for source, target in pairwise([language, *legs]):
            outputs = self._run(outputs, source, target)
        outputs = [_cased(output, text) for output, text in zip(outputs, inputs, strict=True)]
        out_pairs = iter(outputs[len(texts) :])
        return [(outputs[i], None if pair is None else next(out_pairs)) for i, pair in enumerate(pairs)]

    # ------------------------------------------------------------------ the engine
    def _run(self, texts: list[str], source: str, target: str) -> list[str]:
        """``texts`` translated by one ``apertium`` process, one NUL-terminated stream chunk per text."""
        if not texts:
            return []
        mode = self.mode(source, target)
        command = ["apertium", "-f", "none", "-z", *([] if self.mark_unknown else ["-u"]), mode]
        stream = "".join(SPECIAL.sub(r"\\\1", " ".join(t.split())) + END + "\0" for t in texts)
        done = subprocess.run(command, input=stream.encode(), capture_output=True, check=False)
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
            raise DistillxError(f"translator=apertium: `{' '.join(command)}` failed: {lines[-1]}")
        chunks = done.stdout.decode().split("\0")
        # Each translation keeps the blank ending its input; every stage of the pipe flushes once more at the end of
        # input, so only empty chunks may follow.
        ended = all(chunk.endswith(END[1:]) for chunk in chunks[: len(texts)])
        if len(chunks) < len(texts) or not ended or any(chunks[len(texts) :]):
            raise DistillxError(
                f"translator=apertium: the output of {mode} does not split into {len(texts)} translations (one per "
                "NUL-terminated input); the texts cannot be matched to their translations"
            )
        log.info("apertium %s: %d texts translated", mode, len(texts))
        return [_plain(chunk) for chunk in chunks[: len(texts)]]


def _plain(chunk: str) -> str:
    """A chunk of stream-format output as plain text: unescaped, without the sentence end that was appended."""
    return " ".join(re.sub(r"\\(.)", r"\1", chunk.removesuffix(END[1:]).removesuffix(END[0])).split())


def _cased(output: str, source: str) -> str:
    """``output`` with its first letter cased like ``source``'s: Apertium capitalises every chunk, which would mark
    translations of lower-cased corpora (MTOP) and make unchanged round trips differ from their input."""
    first = LETTER.search(source)
    at = LETTER.search(output)
    if first is None or at is None or not first.group().islower():
        return output
    return output[: at.start()] + at.group().lower() + output[at.end() :]
