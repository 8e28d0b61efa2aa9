"""What every translator offers (freetransfer-x.md §2.3): translation for language-balanced distillation
(§2.3.1) and same-language paraphrases for language-specific data augmentation (§2.3.2).

A translator returns new, unlabelled :class:`~distillx.data.schema.Example` objects: the teacher's soft
labels on the source text are what transfers, so translated text must never carry the source's gold labels.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from distillx.data.schema import Example
from distillx.errors import DistillxError


@runtime_checkable
class Translator(Protocol):
    """Turns examples of one language into examples of another (or into paraphrases of the same one)."""

    name: str
    """How logs, MLflow and reports name this translator."""
    oracle: bool
    """True when the "translations" are the dataset's own human translations (a parallel corpus): results
    must then be labelled "oracle translation", since no MT system produced them."""

    def translate(self, examples: list[Example], source: str, target: str) -> list[Example]:
        """One example in ``target`` per input, in input order, with the input's ``id`` (so callers map back),
        ``words=[]`` (the pipeline re-segments), no intent, spans or slots."""
        ...

    def paraphrase(self, examples: list[Example], language: str, n: int) -> list[Example]:
        """``n`` sampled same-language rewrites per input, grouped by input in input order, unlabelled."""
        ...


def unlabelled(example: Example, language: str, text: str, text_pair: str | None, uid: str | None = None) -> Example:
    """A new example with this text and no labels: translated text carries none of the source's labels."""
    return Example(
        id=example.id if uid is None else uid,
        language=language,
        text=text,
        intent=None,
        spans=(),
        words=[],
        slots=None,
        text_pair=text_pair,
    )


def paraphrase_id(uid: str, k: int) -> str:
    """The id of the ``k``-th paraphrase of ``uid``: unique (so caches keyed by id never mix a paraphrase
    with its original) and mapped back with ``uid.rsplit("~p", 1)[0]``."""
    return f"{uid}~p{k}"


def source_texts(examples: list[Example], language: str) -> tuple[list[str], list[str | None]]:
    """The texts and second sentences to generate from, after checking that they are in ``language``."""
    wrong = [ex.id for ex in examples if ex.language != language]
    if wrong:
        raise DistillxError(
            f"{len(wrong)} examples (first id {wrong[0]!r}) are not in the source language {language!r}; "
            "translate each language's examples separately"
        )
    return [ex.text for ex in examples], [ex.text_pair for ex in examples]
