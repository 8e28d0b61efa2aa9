"""The issue's two end-to-end commands on slices of the real benchmarks in ../shared/data (tiny settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED, TINY, compose_config

from distillx.cli import run

DATA = SHARED / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is absent (CI always has ../shared)")


def test_mtop_thai_slot_filling_with_a_bilstm_student(tmp_path: Path, shared_cache):
    """distillx dataset=mtop dataset.task=slots language=th student=bilstm"""
    overrides = ["dataset=mtop", f"dataset.path={DATA / 'mtop'}", "dataset.task=slots", "language=th"]
    cfg = compose_config(
        [*TINY, *overrides, "student=bilstm", "split.limit=400", "teacher.lr=3e-3"], tmp_path, shared_cache
    )
    results = run(cfg, tmp_path / "run", "mtop-th")
    assert set(results.scores["student"]["th"]) == {"slot_f1", "exact_match"}
    # too few utterances and epochs for good slots, but every stage learnt: its training loss went down
    for stage in ("source_model", "kd1_mplm", "kd2_student"):
        history = json.loads((tmp_path / "run" / "stages" / stage / "done.json").read_text())["history"]
        assert history[-1]["train_loss"] < history[0]["train_loss"], stage
    assert results.models["student"] == "bilstm"


def test_multiatis_japanese_intents_with_a_cnn_student(tmp_path: Path, shared_cache):
    """distillx dataset=multiatis language=ja dataset.task=intent student=cnn"""
    overrides = ["dataset=multiatis", f"dataset.path={DATA / 'multiatis_pp'}", "dataset.task=intent", "language=ja"]
    cfg = compose_config([*TINY, *overrides, "student=cnn", "split.limit=400"], tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", "atis-ja")
    assert set(results.scores["student"]["ja"]) == {"accuracy"}
    for stage in ("source_model", "kd1_mplm", "kd2_student"):
        history = json.loads((tmp_path / "run" / "stages" / stage / "done.json").read_text())["history"]
        assert history[-1]["train_loss"] < history[0]["train_loss"], stage
    assert results.models["student"] == "cnn"


def test_xnli_pairs_reach_every_model_as_two_sentences(tmp_path: Path, shared_cache, monkeypatch):
    """distillx dataset=xnli language=de: premise and hypothesis are encoded together for every model."""
    import distillx.context

    calls: list[bool] = []
    real = distillx.context.encode_words

    def spy(tokenizer, words, max_length, pair_lists=None):
        calls.append(pair_lists is not None and len(pair_lists) == len(words) and any(pair_lists))
        return real(tokenizer, words, max_length, pair_lists)

    monkeypatch.setattr(distillx.context, "encode_words", spy)
    overrides = ["dataset=xnli", f"dataset.path={DATA / 'xnli'}", "language=de", "split.limit=150"]
    cfg = compose_config([*TINY, *overrides, "preprocess_cache=false"], tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", "xnli-de")
    assert set(results.scores["student"]["de"]) == {"accuracy"}
    assert calls and all(calls)  # teacher, mPLM and student encodings: every one with its second sentences
