"""The embedded multilingual demo dataset: shape, parallelism, span integrity, reproducibility."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The generator is a repository tool, not part of the package, so it is loaded from its file.
_SPEC = importlib.util.spec_from_file_location("demo_data_generate", REPO / "tools" / "demo_data" / "generate.py")
assert _SPEC is not None and _SPEC.loader is not None
demo_generate = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(demo_generate)

LANGS = ("en", "de", "es", "fr", "hi", "zh", "ja", "th")
DEMO = files("distillx.data") / "demo"
# CJK ideographs, kana, fullwidth forms and Thai
_CJK_OR_THAI = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u0e00-\u0e7f]"
_SPACE_INSIDE = re.compile(rf"{_CJK_OR_THAI} +{_CJK_OR_THAI}")


def _load(lang: str) -> list[dict]:
    data = (DEMO / f"{lang}.jsonl.gz").read_bytes()
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]


def values_of(label: str, column: int) -> list[str]:
    """The lexicon's values of one slot type in one language, with the labelled part only."""
    out = []
    for row in demo_generate.SLOT_VALUES[label]:
        value = row[column]
        out.append(value[value.index("[") + 1 : value.index("]")] if "[" in value else value)
    return out


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict]]:
    return {lang: _load(lang) for lang in LANGS}


def test_languages_and_sizes(demo):
    assert sorted(p.name for p in DEMO.iterdir() if p.name.endswith(".jsonl.gz")) == sorted(
        f"{lang}.jsonl.gz" for lang in LANGS
    )
    for lang, records in demo.items():
        assert len(records) >= 2000, lang
        assert all(r["language"] == lang for r in records)
        ids = [r["id"] for r in records]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), lang


def test_parallel_ids_splits_intents_and_slot_labels(demo):
    reference = demo["en"]
    for lang in LANGS[1:]:
        for a, b in zip(reference, demo[lang], strict=True):
            assert (a["id"], a["split"], a["intent"]) == (b["id"], b["split"], b["intent"])
            assert Counter(s[2] for s in a["spans"]) == Counter(s[2] for s in b["spans"]), (a, b)


def test_label_inventory_and_splits(demo):
    records = demo["en"]
    intents = Counter(r["intent"] for r in records)
    slots = {s[2] for r in records for s in r["spans"]}
    assert len(intents) >= 12
    assert len(slots) >= 8
    assert min(intents.values()) / len(records) >= 0.04
    splits = Counter(r["split"] for r in records)
    assert set(splits) == {"train", "dev", "test"}
    assert 0.65 <= splits["train"] / len(records) <= 0.75
    assert splits["dev"] >= 300 and splits["test"] >= 300


@pytest.mark.parametrize("lang", LANGS)
def test_spans(demo, lang):
    column = LANGS.index(lang)
    lexicon = {label: set(values_of(label, column)) for label in demo_generate.SLOT_VALUES}
    for r in demo[lang]:
        text, spans = r["text"], r["spans"]
        previous_end = 0
        for start, end, label in spans:
            value = text[start:end]
            assert 0 <= previous_end <= start < end <= len(text), r
            assert value and value == value.strip(), r
            assert label in lexicon, r
            assert value in lexicon[label], (value, label, r)
            previous_end = end


@pytest.mark.parametrize("lang", LANGS)
def test_no_duplicate_utterances(demo, lang):
    texts = [r["text"] for r in demo[lang]]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("lang", ["zh", "ja", "th"])
def test_unsegmented_scripts_have_no_spaces_between_words(demo, lang):
    for r in demo[lang]:
        assert not _SPACE_INSIDE.search(r["text"]), r["text"]


def test_regeneration_is_byte_identical(tmp_path):
    demo_generate.write_demo(tmp_path)
    for lang in LANGS:
        name = f"{lang}.jsonl.gz"
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
    assert (tmp_path / "README.md").read_bytes() == (DEMO / "README.md").read_bytes()
