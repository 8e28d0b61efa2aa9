"""A preprocessing cache on Arrow (Hugging Face ``datasets``): segmented splits and sub-word encodings.

Every run of every sweep job used to read the benchmark files, segment each utterance (jieba, MeCab, newmm)
and align its slot spans again, and every stage encoded the same word lists again. Both are pure functions
of their inputs, so their results are kept under ``cache_dir`` and read back by the next run that asks for
the same thing.

*Same thing* is decided by a **key**: a JSON-able mapping of everything the result depends on. It is hashed
(SHA-256 of its canonical JSON, first 16 hex digits) into the entry's directory name, and stored whole in the
entry's ``manifest.json``, which is compared on every read (so a hash collision, or an entry of an older
layout, is a miss, not wrong data). The helpers below build the parts a key needs: :func:`fingerprint_files`
(the data files: an edited file is a new key), :func:`~distillx.files.built_with` (distillx's own reader/
segmentation code, which changes during development without a version bump, and the versions of the libraries
it calls: a new pythainlp dictionary segments differently), :func:`tokenizer_fingerprint` and
:func:`words_fingerprint`.
:func:`splits_key` and :func:`encoding_key` put them together; use them rather than hand-made keys.

An entry is written into a temporary directory next to its final place and renamed into place only when
complete (files fsynced first). A crash or an exception mid-write leaves at worst a ``.build-*`` directory
that no read ever looks at (removed by a later write once a day old); a reader never sees half an entry.
Two processes building the same entry at once both succeed: the first rename wins, the second copy is
dropped. Failing to *write* (disk full, read-only cache) only logs a warning: the result is already
computed, and the run goes on without the cache.

Each split is written as a ``datasets`` Arrow dataset (``save_to_disk`` layout: ``datasets.load_from_disk``
opens it, for inspection), but read back with pyarrow alone, memory-mapped: ``import datasets`` (pandas and
all) takes longer than reading a cached language, and a cache hit should cost neither.

Layout of one entry ``<root>/<digest>/``::

    manifest.json      format, kind, the full key, split names in order (written last)
    counts.json        what the build counted (unaligned spans, skipped rows...), to log on a cached run too
    <split>/           one Arrow dataset per split (``Dataset.save_to_disk``), or ``encoding/`` for encodings
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex

import distillx
from distillx.data.schema import Example, Span, Splits
from distillx.errors import DistillxError
from distillx.files import (
    built_with,
    canonical_json,
    digest,
    digest_lines,
    fsync_dir,
    fsync_tree,
    plain_json,
    remove_stale,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
"""Bump when the on-disk layout or the meaning of a column changes: every older entry becomes a miss."""

Counts = dict[str, float]
"""What a build counted, by metric name (e.g. ``data/th/unaligned``)."""
Encoding = dict[str, list[list[int]]]
"""``input_ids`` and ``word_index`` per utterance, as :func:`distillx.text.align.encode_words` returns."""

SEGMENTATION_LIBRARIES = ("pythainlp", "jieba", "fugashi", "unidic-lite", "regex")
"""Packages whose version changes segmentation (dictionaries ship inside them)."""
TOKENIZATION_LIBRARIES = ("tokenizers", "transformers")

# The Example fields the columns hold; a field added to Example must be added here (checked on write).
_EXAMPLE_FIELDS = ("id", "language", "text", "intent", "spans", "words", "slots", "text_pair", "pair_words")
_SAFE_NAME = regex.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_MANIFEST, _COUNTS, _ENCODING_DIR = "manifest.json", "counts.json", "encoding"


# ---------------------------------------------------------------------------------------------------- keys
def key_digest(key: Mapping[str, Any]) -> str:
    """The entry directory name of ``key``: the digest of its canonical JSON."""
    return digest(key)


def fingerprint_files(paths: Iterable[str | Path]) -> list[tuple[str, int, int]]:
    """``(resolved path, size, mtime_ns)`` of every file in ``paths`` (directories walked), sorted.

    Size and modification time, not content: a stat is microseconds, where hashing MultiATIS++ would cost
    more than the cache saves, and any edit, copy or re-download changes the mtime. (A copy that keeps
    mtimes, ``cp -p``/``rsync -t``, of identical content is rightly a hit.) Hidden files are skipped; a
    missing path is an error, since a key without its data would match anything.
    """
    out: list[tuple[str, int, int]] = []
    for given in paths:
        path = Path(given).expanduser().resolve()
        if path.is_file():
            candidates: Iterable[Path] = [path]
        elif path.is_dir():
            candidates = (p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
        else:
            raise DistillxError(f"{path}: not found, so it cannot be fingerprinted for the preprocessing cache")
        for file in candidates:
            stat = file.stat()
            out.append((str(file), stat.st_size, stat.st_mtime_ns))
    return sorted(set(out))


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """SHA-256 (16 hex) of everything of ``tokenizer`` that decides its encodings.

    For a fast tokenizer that is its whole serialized pipeline (``backend_tokenizer.to_str()``: vocabulary,
    merges, normalizer, pre-tokenizer, post-processor, added tokens), which identifies it whatever its
    ``name_or_path`` (a per-run BPE vocabulary has none worth trusting); for a slow one, its vocabulary and
    added tokens. Plus what lives only in the Python wrapper: class, special token ids, truncation side.

    Serializing a 250k-piece mPLM vocabulary takes ~0.1 s, as long as encoding a dev set, so the result is
    remembered per tokenizer object (recomputed if its size, special ids or truncation side change).
    """
    wrapper = {
        "class": type(tokenizer).__name__,
        "size": len(tokenizer),
        "special_ids": sorted(tokenizer.all_special_ids),
        "truncation_side": getattr(tokenizer, "truncation_side", None),
    }
    try:
        remembered = _TOKENIZER_FINGERPRINTS.get(tokenizer)
    except TypeError:  # not weak-referenceable or not hashable: no memo
        remembered = None
    if remembered is not None and remembered[0] == wrapper:
        return remembered[1]
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        pipeline = json.loads(backend.to_str())
        # Truncation and padding are settings an encoding call leaves behind on the backend, not the tokenizer:
        # without dropping them, one tokenizer would change its fingerprint once it has encoded something.
        pipeline.pop("truncation", None)
        pipeline.pop("padding", None)
        parts = [canonical_json(pipeline)]
    else:
        parts = [
            canonical_json(sorted(tokenizer.get_vocab().items())),
            canonical_json(sorted(tokenizer.get_added_vocab().items())),
        ]
    fingerprint = digest_lines([*parts, canonical_json(wrapper)])
    with suppress(TypeError):
        _TOKENIZER_FINGERPRINTS[tokenizer] = (wrapper, fingerprint)
    return fingerprint


_TOKENIZER_FINGERPRINTS: weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], str]] = weakref.WeakKeyDictionary()


def words_fingerprint(word_lists: Sequence[Sequence[str]]) -> str:
    """SHA-256 (16 hex) of utterances' words, in order: identifies the examples an encoding is of.

    Keying an encoding by its input itself (rather than by "train half of th") means a caller cannot get
    the encoding of other examples, whatever subset, order or augmentation it passes.
    """
    return digest_lines(
        json.dumps(words, ensure_ascii=False, separators=(",", ":"), default=list) for words in word_lists
    )


def splits_key(
    *, dataset: Mapping[str, Any], language: str, segmenter: Mapping[str, Any], files: Iterable[str | Path]
) -> dict[str, Any]:
    """The key of one language's segmented splits.

    ``dataset``: the dataset's Hydra config (reader, path, task, on_error, resegment, multi_intent...);
    ``segmenter``: the language's segmenter config; ``files``: the reader's data (its ``root``), fingerprinted
    here. Added: the distillx version, a hash of its reader and segmentation code, segmenter library versions.
    """
    return {
        "dataset": dict(dataset),
        "language": language,
        "segmenter": dict(segmenter),
        "files": fingerprint_files(files),
        "distillx": distillx.__version__,
        **built_with(("distillx.data", "distillx.text"), SEGMENTATION_LIBRARIES),
    }


def encoding_key(
    *,
    tokenizer: Any,
    max_length: int,
    word_lists: Sequence[Sequence[str]],
    pair_lists: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The key of the encoding of ``word_lists`` (with their second sentences ``pair_lists`` on pair tasks) by
    ``tokenizer`` truncated to ``max_length`` sub-words."""
    return {
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": int(max_length),
        "words": words_fingerprint(word_lists),
        "pairs": None if pair_lists is None else words_fingerprint(pair_lists),
        "n": len(word_lists),
        "distillx": distillx.__version__,
        **built_with(("distillx.text",), TOKENIZATION_LIBRARIES),
    }


# ---------------------------------------------------------------------------------------------------- entries
def cached_splits(
    root: str | Path, key: Mapping[str, Any], build: Callable[[], tuple[Splits, Counts]]
) -> tuple[Splits, Counts]:
    """``build()``'s splits and counts, from the cache entry of ``key`` under ``root`` if there is one.

    ``build`` is called only on a miss (or when the entry cannot be read); its result is stored and returned
    as is. A hit returns new :class:`Example` objects equal field for field to the ones built, splits in the
    order built, and the counts as floats.
    """
    full_key = {**key, "kind": "splits", "format": CACHE_FORMAT}

    def load(entry: Path, manifest: dict[str, Any]) -> tuple[Splits, Counts]:
        counts = json.loads((entry / _COUNTS).read_text(encoding="utf-8"))
        return {name: _load_examples(entry / name) for name in manifest["splits"]}, counts

    def write(value: tuple[Splits, Counts], tmp: Path) -> dict[str, Any]:
        splits, counts = value
        for name, examples in splits.items():
            if not _SAFE_NAME.fullmatch(name) or name in (_MANIFEST, _COUNTS):
                raise DistillxError(f"split name {name!r} cannot be a cache directory name")
            _save(_example_columns(examples), _example_schema(), tmp / name)
        _write_json({k: float(v) for k, v in counts.items()}, tmp / _COUNTS)
        return {"splits": list(splits)}

    return _cached(Path(root), full_key, build, load, write)


def cached_encoding(root: str | Path, key: Mapping[str, Any], build: Callable[[], Encoding]) -> Encoding:
    """``build()``'s ``input_ids`` and ``word_index`` (lists of int lists), from the cache if there."""
    full_key = {**key, "kind": "encoding", "format": CACHE_FORMAT}

    def load(entry: Path, manifest: dict[str, Any]) -> Encoding:
        table = _load_table(entry / _ENCODING_DIR, _encoding_schema())
        return {name: table.column(name).to_pylist() for name in ("input_ids", "word_index")}

    def write(value: Encoding, tmp: Path) -> dict[str, Any]:
        columns = {"input_ids": list(value["input_ids"]), "word_index": list(value["word_index"])}
        _save(columns, _encoding_schema(), tmp / _ENCODING_DIR)
        return {}

    return _cached(Path(root), full_key, build, load, write)


def _cached(
    root: Path,
    key: dict[str, Any],
    build: Callable[[], Any],
    load: Callable[[Path, dict[str, Any]], Any],
    write: Callable[[Any, Path], dict[str, Any]],
) -> Any:
    key = plain_json(key)  # what the manifest stores and is compared with
    name = key_digest(key)
    entry = root / name
    manifest = _manifest(entry, key)
    if manifest is not None:
        try:
            with _gc_paused():
                value = load(entry, manifest)
            log.log(logging.INFO if key["kind"] == "splits" else logging.DEBUG, "%s read from %s", key["kind"], entry)
            return value
        except Exception as err:  # a damaged entry (disk error, a file removed by hand) is rebuilt, not fatal
            log.warning("preprocessing cache entry %s is unreadable (%s); rebuilding it", entry, err)
    value = build()
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=root))
    except OSError as err:
        log.warning("preprocessing cache %s is not writable (%s); going on without it", root, err)
        return value
    try:
        extra = write(value, tmp)
        _write_json(
            {"format": CACHE_FORMAT, "kind": key["kind"], "key": key, "created": time.time(), **extra}, tmp / _MANIFEST
        )
        fsync_tree(tmp)
        _publish(tmp, entry, key, replace=manifest is not None)
        log.log(logging.INFO if key["kind"] == "splits" else logging.DEBUG, "%s cached in %s", key["kind"], entry)
    except OSError as err:
        log.warning("could not write preprocessing cache entry %s (%s); going on without it", entry, err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    remove_stale(root)
    return value


def _manifest(entry: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The entry's manifest if it is a complete entry of exactly ``key`` (not a collision or another format)."""
    try:
        manifest = json.loads((entry / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key:
        return None
    return manifest


def _publish(tmp: Path, entry: Path, key: dict[str, Any], *, replace: bool) -> None:
    """Rename the complete ``tmp`` to ``entry``: atomic, so ``entry`` is always absent or whole."""
    try:
        os.rename(tmp, entry)  # fails if entry exists and is not empty
    except OSError:
        if not replace and _manifest(entry, key) is not None:
            return  # another process published the same entry first: theirs is as good as ours
        # An entry that is damaged or not of this key: moved aside (atomically), then ours goes in.
        aside = Path(tempfile.mkdtemp(prefix=f".stale-{entry.name}-", dir=entry.parent))
        os.rename(entry, aside / "old")
        os.rename(tmp, entry)
        shutil.rmtree(aside, ignore_errors=True)
    fsync_dir(entry.parent)


def _write_json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a hit builds its objects. Turning ~200k new lists, strings and
    Examples into Python objects triggers a generation-0 collection every 700 allocations, each walking the
    young objects, and full collections over the whole heap: 2-3x the time of the read itself (MTOP en: 0.5 s
    vs 0.17 s). None of these objects is part of a cycle, so nothing is left for the collector to do later."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No "Saving the dataset" progress bar per split in the run's log; the global setting is restored."""
    import datasets

    was_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.utils.enable_progress_bars()


# ---------------------------------------------------------------------------------------------------- columns
# pyarrow and datasets are imported where used: ``import datasets`` costs 0.6-1.5 s (it pulls in pandas), more
# than reading a cached language, and a cache hit does not need it (see _load_table).
@cache
def _example_schema() -> pa.Schema:
    import pyarrow as pa

    strings = pa.list_(pa.string())
    return pa.schema(
        [
            ("id", pa.string()),
            ("language", pa.string()),
            ("text", pa.string()),
            ("intent", pa.string()),
            ("span_start", pa.list_(pa.int32())),
            ("span_end", pa.list_(pa.int32())),
            ("span_label", strings),
            ("words", strings),
            ("slots", strings),  # a null row is ``slots=None``; an empty list stays ``[]``
            ("text_pair", pa.string()),
            ("pair_words", strings),
        ]
    )


@cache
def _encoding_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("input_ids", pa.list_(pa.int32())), ("word_index", pa.list_(pa.int32()))])


def _save(columns: dict[str, list[Any]], schema: pa.Schema, directory: Path) -> None:
    """One Arrow dataset (``datasets``' ``save_to_disk`` layout, so ``datasets.load_from_disk`` opens it),
    converted by pyarrow in C++: ``Dataset.from_dict(..., features=...)`` encodes value by value in Python
    (2-3 s for MTOP th, more than segmenting it) and hashes the table for a fingerprint nothing here uses."""
    import datasets
    import pyarrow as pa
    from datasets.table import InMemoryTable

    table = pa.Table.from_pydict(columns, schema=schema)
    info = datasets.DatasetInfo(features=datasets.Features.from_arrow_schema(schema))
    dataset = datasets.Dataset(InMemoryTable(table), info=info, fingerprint=directory.parent.name[-16:])
    with _quiet_datasets():
        # An empty table would be saved as zero shards, which load_from_disk cannot read back (datasets 5.2).
        dataset.save_to_disk(str(directory), num_shards=1 if table.num_rows == 0 else None)


def _example_columns(examples: Sequence[Example]) -> dict[str, list[Any]]:
    names = tuple(f.name for f in fields(Example))
    if names != _EXAMPLE_FIELDS:
        raise DistillxError(
            f"Example has fields {names}, the preprocessing cache stores {_EXAMPLE_FIELDS}: update "
            "distillx/data/cache.py (columns and CACHE_FORMAT) so that no field is lost"
        )
    return {
        "id": [ex.id for ex in examples],
        "language": [ex.language for ex in examples],
        "text": [ex.text for ex in examples],
        "intent": [ex.intent for ex in examples],
        "span_start": [[s.start for s in ex.spans] for ex in examples],
        "span_end": [[s.end for s in ex.spans] for ex in examples],
        "span_label": [[s.label for s in ex.spans] for ex in examples],
        "words": [list(ex.words) for ex in examples],
        "slots": [None if ex.slots is None else list(ex.slots) for ex in examples],
        "text_pair": [ex.text_pair for ex in examples],
        "pair_words": [list(ex.pair_words) for ex in examples],
    }


def _load_table(directory: Path, schema: pa.Schema) -> pa.Table:
    """The Arrow table saved in ``directory``, memory-mapped.

    Read with pyarrow alone: the shard files ``save_to_disk`` lists in ``state.json`` are Arrow IPC streams,
    and skipping ``datasets.load_from_disk`` skips importing ``datasets`` on a cache hit. Should a future
    ``datasets`` lay its files out otherwise, ``load_from_disk`` reads them. The columns must be ``schema``'s.
    """
    import pyarrow as pa

    try:
        state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
        shards = [directory / item["filename"] for item in state["_data_files"]]
        table = pa.concat_tables([pa.ipc.open_stream(pa.memory_map(str(shard))).read_all() for shard in shards])
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowInvalid):
        import datasets

        table = datasets.load_from_disk(str(directory)).with_format("arrow")[:]
    if table.schema.names != schema.names:
        raise ValueError(f"{directory}: columns {table.schema.names}, expected {schema.names}")
    return table


def _load_examples(directory: Path) -> list[Example]:
    table = _load_table(directory, _example_schema())
    col = {name: table.column(name).to_pylist() for name in table.schema.names}
    return [
        Example(
            id=uid,
            language=language,
            text=text,
            intent=intent,
            spans=tuple(Span(*s) for s in zip(starts, ends, labels, strict=True)),
            words=words,
            slots=slots,
            text_pair=pair,
            pair_words=pair_words,
        )
        for uid, language, text, intent, starts, ends, labels, words, slots, pair, pair_words in zip(
            col["id"],
            col["language"],
            col["text"],
            col["intent"],
            col["span_start"],
            col["span_end"],
            col["span_label"],
            col["words"],
            col["slots"],
            col["text_pair"],
            col["pair_words"],
            strict=True,
        )
    ]
