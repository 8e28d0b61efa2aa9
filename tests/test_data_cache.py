"""The preprocessing cache (distillx.data.cache): exact round trips, hits without building, keys that change
with their inputs, and writes that are all or nothing."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from distillx.data import cache
from distillx.data.cache import (
    cached_encoding,
    cached_splits,
    encoding_key,
    fingerprint_files,
    key_digest,
    splits_key,
    tokenizer_fingerprint,
    words_fingerprint,
)
from distillx.data.schema import Example, Span
from distillx.errors import DistillxError
from distillx.text.align import encode_words
from distillx.text.vocab import load_vocab, save_vocab, train_bpe

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sample_splits() -> dict[str, list[Example]]:
    """Every field in every state it can be in: None vs empty vs filled, spans, pairs, non-Latin text."""
    return {
        # Not alphabetical on purpose: the split order must survive.
        "train": [
            Example(
                "en:train:1",
                "en",
                "wake me at 7 am",
                intent="SET_ALARM",
                spans=(Span(11, 15, "time"), Span(0, 4, "verb")),
                words=["wake", "me", "at", "7", "am"],
                slots=["B-verb", "O", "O", "B-time", "I-time"],
            ),
            Example("en:train:2", "en", "hello", intent=None, words=["hello"], slots=None),
            Example("en:train:3", "en", "", intent="", words=[], slots=[]),
            Example("th:train:4", "th", "ตั้งปลุก 7 โมง", intent="x", words=["ตั้ง", "ปลุก", "7", "โมง"], slots=None),
        ],
        "test": [
            Example(
                "p:1",
                "de",
                "Ein Satz.",
                intent="1",
                text_pair="Noch ein Satz.",
                words=["Ein", "Satz", "."],
                pair_words=["Noch", "ein", "Satz", "."],
            ),
            Example("p:2", "zh", "北京天气", intent=None, spans=(Span(0, 2, "loc"),), words=[], slots=None),
        ],
        "dev": [],
    }


def as_tuples(splits: dict[str, list[Example]]) -> list:
    """Splits as plain values, types included, so ``()`` vs ``[]`` or ``None`` vs ``[]`` count as different."""
    return [(name, [[(type(v).__name__, v) for v in vars(ex).values()] for ex in exs]) for name, exs in splits.items()]


class Counter:
    """A build function that counts its calls."""

    def __init__(self, value_factory) -> None:
        self.calls = 0
        self.value_factory = value_factory

    def __call__(self):
        self.calls += 1
        return self.value_factory()


def entries(root: Path) -> list[str]:
    """Entry directories a read could find (hidden ones are temporaries, never read)."""
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


# ------------------------------------------------------------------------------------------------ splits
def test_round_trip_preserves_every_field_and_the_split_order(tmp_path):
    build = Counter(lambda: (sample_splits(), {"data/en/unaligned": 2, "data/skipped/x": 1.5}))
    first, first_counts = cached_splits(tmp_path, {"k": 1}, build)
    second, second_counts = cached_splits(tmp_path, {"k": 1}, build)
    assert build.calls == 1
    assert second == sample_splits()
    assert as_tuples(second) == as_tuples(sample_splits()) == as_tuples(first)
    assert list(second) == ["train", "test", "dev"]
    assert all(isinstance(s, Span) for ex in second["train"] for s in ex.spans)
    assert second["train"][0].spans == (Span(11, 15, "time"), Span(0, 4, "verb"))
    assert second["train"][1].slots is None and second["train"][2].slots == []
    assert second["train"][1].intent is None and second["train"][2].intent == ""
    assert second["test"][0].text_pair == "Noch ein Satz." and second["test"][1].text_pair is None
    assert second["test"][0].pair_words == ["Noch", "ein", "Satz", "."] and second["test"][1].pair_words == []
    assert second_counts == {"data/en/unaligned": 2.0, "data/skipped/x": 1.5} == first_counts


def test_entries_are_datasets_and_a_hit_needs_no_datasets_import(tmp_path):
    import subprocess
    import sys

    import datasets

    cached_splits(tmp_path, {"k": 1}, lambda: (sample_splits(), {}))
    [entry] = entries(tmp_path)
    train = datasets.load_from_disk(str(tmp_path / entry / "train"))
    assert train["words"][0] == ["wake", "me", "at", "7", "am"] and train["slots"][1] is None
    assert len(datasets.load_from_disk(str(tmp_path / entry / "dev"))) == 0
    # A cache hit reads Arrow with pyarrow alone: ``import datasets`` costs more than the read.
    code = (
        "import sys; from distillx.data.cache import cached_splits; "
        f"splits, _ = cached_splits({str(tmp_path)!r}, {{'k': 1}}, lambda: sys.exit('miss')); "
        "assert len(splits['train']) == 4; assert 'datasets' not in sys.modules, 'datasets imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_hit_returns_new_objects(tmp_path):
    cached_splits(tmp_path, {"k": 1}, lambda: (sample_splits(), {}))
    one, _ = cached_splits(tmp_path, {"k": 1}, lambda: pytest.fail("built again"))
    one["train"][0].words.append("mutated")
    two, _ = cached_splits(tmp_path, {"k": 1}, lambda: pytest.fail("built again"))
    assert two["train"][0].words == ["wake", "me", "at", "7", "am"]


def test_a_changed_data_file_or_setting_rebuilds(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("a\tb\n")
    root = tmp_path / "cache"
    build = Counter(lambda: (sample_splits(), {}))

    def key(**change):
        settings = {"dataset": {"_target_": "x.Reader", "task": "both"}, "language": "en", "segmenter": {"s": 1}}
        return splits_key(**{**settings, **change}, files=[data])

    cached_splits(root, key(), build)
    cached_splits(root, key(), build)
    assert build.calls == 1
    cached_splits(root, key(language="de"), build)
    cached_splits(root, key(segmenter={"s": 2}), build)
    cached_splits(root, key(dataset={"_target_": "x.Reader", "task": "intent"}), build)
    assert build.calls == 4
    # An edited file: new size (and mtime) ...
    (data / "train.tsv").write_text("a\tb\tc\n")
    cached_splits(root, key(), build)
    assert build.calls == 5
    # ... or same size, new mtime (a re-download of other content of the same length).
    stat = (data / "train.tsv").stat()
    os.utime(data / "train.tsv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    cached_splits(root, key(), build)
    assert build.calls == 6
    # A new file in the dataset directory also counts; hidden files do not.
    (data / ".DS_Store").write_text("x")
    cached_splits(root, key(), build)
    assert build.calls == 6
    (data / "dev.tsv").write_text("a\tb\n")
    cached_splits(root, key(), build)
    assert build.calls == 7


def test_key_contents():
    key = splits_key(dataset={"path": "p"}, language="th", segmenter={"_target_": "T"}, files=[__file__])
    assert {"dataset", "language", "segmenter", "files", "distillx", "code", "libraries"} <= set(key)
    assert "pythainlp" in key["libraries"]
    # Canonical: the order of keys does not matter, values do; tuples and lists are the same JSON.
    assert key_digest({"a": 1, "b": (1, 2)}) == key_digest({"b": [1, 2], "a": 1}) != key_digest({"a": 1, "b": [2, 1]})
    with pytest.raises(TypeError, match="not JSON-able"):
        key_digest({"a": object()})


def test_fingerprint_files(tmp_path):
    (tmp_path / "b.txt").write_text("bb")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    rows = fingerprint_files([tmp_path, tmp_path / "b.txt"])  # a file named twice is listed once
    assert [(Path(name).name, size) for name, size, _ in rows] == [("b.txt", 2), ("a.txt", 1)]
    assert all(isinstance(mtime, int) for _, _, mtime in rows)
    with pytest.raises(DistillxError, match="not found"):
        fingerprint_files([tmp_path / "missing"])


# ------------------------------------------------------------------------------------------------ atomicity
def test_a_failing_build_leaves_nothing(tmp_path):
    def broken():
        raise RuntimeError("segmenter crashed")

    with pytest.raises(RuntimeError, match="segmenter crashed"):
        cached_splits(tmp_path, {"k": 1}, broken)
    assert entries(tmp_path) == []
    build = Counter(lambda: (sample_splits(), {}))
    cached_splits(tmp_path, {"k": 1}, build)
    assert build.calls == 1


def _fail_on_second_split(monkeypatch, error: BaseException) -> None:
    """Let the first split's Arrow files be written, then fail: a write interrupted midway."""
    real_save = cache._save
    saved = []

    def save(columns, features, directory):
        if saved:
            raise error
        real_save(columns, features, directory)
        saved.append(directory)

    monkeypatch.setattr(cache, "_save", save)


def test_a_write_failing_midway_is_not_read_later(tmp_path, monkeypatch, caplog):
    _fail_on_second_split(monkeypatch, OSError(28, "No space left on device"))
    with caplog.at_level(logging.WARNING, logger="distillx.data.cache"):
        splits, counts = cached_splits(tmp_path, {"k": 1}, lambda: (sample_splits(), {"n": 1}))
    # The run goes on with what it built; the cache only says it could not keep it.
    assert splits == sample_splits() and counts == {"n": 1}
    assert "No space left" in caplog.text
    assert entries(tmp_path) == [] and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    build = Counter(lambda: (sample_splits(), {}))
    assert cached_splits(tmp_path, {"k": 1}, build)[0] == sample_splits()
    assert build.calls == 1


def test_an_interrupt_midway_propagates_and_leaves_nothing(tmp_path, monkeypatch):
    _fail_on_second_split(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        cached_splits(tmp_path, {"k": 1}, lambda: (sample_splits(), {}))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    build = Counter(lambda: (sample_splits(), {}))
    cached_splits(tmp_path, {"k": 1}, build)
    assert build.calls == 1


def test_leftovers_of_a_killed_write_are_ignored(tmp_path):
    """A process killed mid-write leaves its temporary directory (a ``.build-*`` with some files): it is never
    read, and a directory at the entry's own name without a manifest (half copied by hand) is replaced."""
    key = {"k": 1}
    digest = key_digest({"kind": "splits", "format": cache.CACHE_FORMAT, **key})
    (tmp_path / f".build-{digest}-x" / "train").mkdir(parents=True)
    (tmp_path / f".build-{digest}-x" / "counts.json").write_text("{}")
    (tmp_path / digest / "train").mkdir(parents=True)
    build = Counter(lambda: (sample_splits(), {}))
    assert cached_splits(tmp_path, key, build)[0] == sample_splits()
    assert cached_splits(tmp_path, key, build)[0] == sample_splits()
    assert build.calls == 1
    assert entries(tmp_path) == [digest]


def test_a_damaged_entry_is_rebuilt(tmp_path, caplog):
    key = {"k": 1}
    cached_splits(tmp_path, key, lambda: (sample_splits(), {}))
    [entry] = entries(tmp_path)
    for arrow in (tmp_path / entry).rglob("*.arrow"):
        arrow.write_bytes(b"not arrow")
    build = Counter(lambda: (sample_splits(), {}))
    with caplog.at_level(logging.WARNING, logger="distillx.data.cache"):
        assert cached_splits(tmp_path, key, build)[0] == sample_splits()
    assert build.calls == 1 and "unreadable" in caplog.text
    assert cached_splits(tmp_path, key, build)[0] == sample_splits()
    assert build.calls == 1


def test_a_concurrent_writer_of_the_same_entry_wins(tmp_path):
    """Two jobs of a sweep building the same entry: the one that publishes second keeps the first's entry."""
    key = {"k": 1}

    def build_while_another_job_publishes():
        cached_splits(tmp_path, key, lambda: (sample_splits(), {"who": 1}))
        return sample_splits(), {"who": 2}

    _, counts = cached_splits(tmp_path, key, build_while_another_job_publishes)
    assert counts == {"who": 2}  # this job's own result
    assert cached_splits(tmp_path, key, lambda: pytest.fail("built again"))[1] == {"who": 1.0}
    assert list(tmp_path.iterdir()) == [tmp_path / entries(tmp_path)[0]]


def test_an_unwritable_root_is_only_a_warning(tmp_path, caplog):
    root = tmp_path / "file"
    root.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="distillx.data.cache"):
        splits, _ = cached_splits(root, {"k": 1}, lambda: (sample_splits(), {}))
    assert splits == sample_splits() and "not writable" in caplog.text


# ------------------------------------------------------------------------------------------------ encodings
def test_encoding_round_trip(tmp_path):
    value = {"input_ids": [[2, 17, 5, 3], [2, 3], []], "word_index": [[1, 2, -1], [], []]}
    build = Counter(lambda: value)
    assert cached_encoding(tmp_path, {"k": 1}, build) == value
    assert cached_encoding(tmp_path, {"k": 1}, build) == value
    assert build.calls == 1
    # Same key, other kind: a splits entry and an encoding entry never collide.
    cached_splits(tmp_path, {"k": 1}, lambda: (sample_splits(), {}))
    assert len(entries(tmp_path)) == 2


def test_encoding_key_follows_tokenizer_max_length_and_words(tmp_path):
    words = [ex.words for ex in sample_splits()["train"]] * 5
    tok = train_bpe(words, vocab_size=60, min_frequency=1)
    other = train_bpe(words, vocab_size=40, min_frequency=1)
    save_vocab(tok, tmp_path / "vocab")
    assert tokenizer_fingerprint(load_vocab(tmp_path / "vocab")) == tokenizer_fingerprint(tok)
    assert tokenizer_fingerprint(other) != tokenizer_fingerprint(tok)
    grown = load_vocab(tmp_path / "vocab")
    before = tokenizer_fingerprint(grown)
    grown.add_tokens(["zzz"])  # a tokenizer changed after it was fingerprinted (the result is remembered)
    assert tokenizer_fingerprint(grown) != before
    assert words_fingerprint(words) != words_fingerprint(words[1:]) != words_fingerprint([["a b"]])
    assert words_fingerprint([["ab"]]) != words_fingerprint([["a", "b"]])

    root = tmp_path / "cache"
    calls = []

    def encode(tokenizer, max_length):
        def build():
            calls.append(max_length)
            return encode_words(tokenizer, words, max_length)

        key = encoding_key(tokenizer=tokenizer, max_length=max_length, word_lists=words)
        return cached_encoding(root, key, build)

    fresh = encode_words(tok, words, 4)
    assert encode(tok, 4) == fresh == encode(tok, 4)
    assert len(calls) == 1
    assert encode(tok, 8) == encode_words(tok, words, 8)
    assert encode(other, 4) == encode_words(other, words, 4)
    assert len(calls) == 3
    assert any(-1 in row for row in fresh["word_index"])  # truncation at 4 cut words off: -1 survives
    plain = encoding_key(tokenizer=tok, max_length=4, word_lists=words)
    paired = encoding_key(tokenizer=tok, max_length=4, word_lists=words, pair_lists=words)
    assert paired != plain
    assert paired != encoding_key(tokenizer=tok, max_length=4, word_lists=words, pair_lists=words[::-1])
    assert encoding_key(tokenizer=tok, max_length=4, word_lists=words, pair_lists=words) == paired


# ------------------------------------------------------------------------------------------------ real data
@pytest.mark.skipif(not (SHARED_DATA / "mtop" / "th").is_dir(), reason=f"{SHARED_DATA}/mtop/th is absent")
def test_mtop_thai_through_the_cache_matches_a_fresh_segmentation(tmp_path):
    """MTOP th read, segmented with newmm and tagged, cached, read back: the same words as segmenting anew.
    (The first 300 examples of each split, to keep the test fast.)"""
    from distillx.data.readers import MtopDataset
    from distillx.text.segment import ThaiSegmenter, spans_to_bio

    reader = MtopDataset(str(SHARED_DATA / "mtop"), task="both")
    segmenter = ThaiSegmenter()

    def build():
        splits = {name: examples[:300] for name, examples in reader.load("th").items()}
        unaligned = 0
        for examples in splits.values():
            for ex in examples:
                ex.words = segmenter(ex.text)
                alignment = spans_to_bio(ex.text, ex.words, ex.spans)
                ex.slots, unaligned = alignment.tags, unaligned + alignment.unaligned
        return splits, {"data/th/unaligned": unaligned}

    key = splits_key(
        dataset={"_target_": "distillx.data.readers.MtopDataset", "task": "both", "on_error": "raise"},
        language="th",
        segmenter={"_target_": "distillx.text.segment.ThaiSegmenter"},
        files=[reader.root],
    )
    built, counts = cached_splits(tmp_path, key, build)
    cached, cached_counts = cached_splits(tmp_path, key, lambda: pytest.fail("built again"))
    assert cached == built and cached_counts == counts
    fresh = ThaiSegmenter()
    for name in ("train", "dev", "test"):
        first = cached[name][:50]
        assert len(first) == 50
        assert [ex.words for ex in first] == [fresh(ex.text) for ex in first]
        assert all(len(ex.slots) == len(ex.words) for ex in first)
    assert any(ex.spans for ex in cached["train"][:50])


def test_tokenizer_fingerprint_ignores_the_truncation_an_encoding_call_leaves_behind(tmp_path):
    """Stage keys hold the fingerprint: it must be the same before and after the tokenizer has encoded text."""
    from distillx.text.vocab import load_vocab, save_vocab, train_bpe

    save_vocab(train_bpe([["hello", "world"], ["hello", "there"]] * 50, vocab_size=100), tmp_path / "vocab")
    fresh, used = load_vocab(tmp_path / "vocab"), load_vocab(tmp_path / "vocab")  # two objects: no memo shared
    used(["hello", "world"], is_split_into_words=True, truncation=True, max_length=8)
    assert tokenizer_fingerprint(fresh) == tokenizer_fingerprint(used)
