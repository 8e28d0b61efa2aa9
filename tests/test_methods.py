"""Every method and augmentation option end to end on the demo and on a slice of MultiATIS++ (tiny settings), and
the label-free promise: after the source model, no method but gold_supervised reads a gold label."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHARED, TINY, compose_config

from distillx.cli import run
from distillx.data.pipeline import PREPARING
from distillx.errors import DistillxError

ALLOWED = (
    PREPARING,  # parsing, re-tagging and caching the files
    "label set of the source model",
    "en train split into halves balanced by label",  # the source language only
    "source_model train",
    "source_model dev",
)


def label_reads(reads: list[str | None]) -> list[str | None]:
    """Label reads other than the data preparation, the source model's own training/selection and the final
    test scoring: none is allowed in a label-free method."""
    return sorted({r for r in reads if r not in ALLOWED and not (r or "").endswith((" test", "test majority class"))})


ATIS = SHARED / "data" / "multiatis_pp"
REAL = ["dataset=multiatis", f"dataset.path={ATIS}", "dataset.task=intent", "split.limit=240"]
real_data = pytest.mark.skipif(not ATIS.is_dir(), reason=f"{ATIS} is absent (CI always has ../shared)")


def check_method_run(results, spy: list[str], method: str, language: str) -> None:
    assert language in {lang for per_lang in results.scores.values() for lang in per_lang}, method
    for per_lang in results.scores.values():
        for metrics in per_lang.values():
            assert 0.0 <= metrics["accuracy"] <= 1.0
    assert None not in spy, "a gold label was read without declaring why"
    if method == "gold_supervised":
        assert label_reads(spy) == ["gold_mplm dev", "gold_mplm train"]
    else:
        assert label_reads(spy) == [], f"{method} read gold labels after the source model"
    if method in ("freetransfer_balanced", "translate_test", "translate_train_pseudo"):
        assert any("oracle" in note for note in results.notes)  # the parallel translator is the oracle


METHODS = [
    ("freetransfer", []),
    ("zero_shot", []),
    ("translate_test", []),
    ("translate_train_pseudo", []),
    ("gold_supervised", []),
    ("freetransfer", ["augmentation=mlm_replace", "augmentation.n=1"]),
]


@pytest.mark.parametrize(
    ("method", "extra"),
    [*METHODS, pytest.param("freetransfer_balanced", [], marks=pytest.mark.slow)],  # KD step 1 on twice the text
)
def test_every_method_runs_on_the_demo(tmp_path: Path, shared_cache, spy_gold, method: str, extra: list[str]):
    cfg = compose_config([*TINY, "language=de", f"method={method}", *extra], tmp_path, shared_cache)
    check_method_run(run(cfg, tmp_path / "run", method), spy_gold, method, "de")


@real_data
@pytest.mark.parametrize(("method", "extra"), [*METHODS, ("freetransfer_balanced", [])])
def test_every_method_runs_on_a_multiatis_slice(tmp_path: Path, shared_cache, spy_gold, method: str, extra: list[str]):
    """The same on 240 utterances per split of MultiATIS++ en->de; stages shared between methods train once."""
    cfg = compose_config([*TINY, *REAL, "language=de", f"method={method}", *extra], tmp_path, shared_cache)
    check_method_run(run(cfg, tmp_path / "run", method), spy_gold, method, "de")


@real_data
def test_paraphrase_augmentation_on_a_multiatis_slice(tmp_path: Path, shared_cache):
    """Paraphrases by sampled MT on real text (plumbing only: the tiny M2M-100 has random weights)."""
    overrides = [*TINY, *REAL, "language=de", "augmentation=paraphrase", "translator=tiny_m2m100", "trainer.epochs=1"]
    results = run(compose_config(overrides, tmp_path, shared_cache), tmp_path / "run", "paraphrase")
    assert "de" in results.scores["student"]


@pytest.mark.slow
def test_paraphrase_augmentation_through_a_seq2seq_translator(tmp_path: Path, shared_cache):
    """Paraphrases by sampled MT (plumbing only: the tiny M2M-100 has random weights)."""
    overrides = [*TINY, "language=de", "augmentation=paraphrase", "translator=tiny_m2m100", "trainer.epochs=1"]
    cfg = compose_config(overrides, tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", "paraphrase")
    assert "de" in results.scores["student"]
    cached = (tmp_path / "run" / "stages" / "kd2_student" / "teacher_train_outputs.pt").resolve()
    assert cached.exists()


def test_mt_methods_refuse_slot_tasks(tmp_path: Path, shared_cache):
    cfg = compose_config([*TINY, "language=de", "method=translate_test", "dataset.task=slots"], tmp_path, shared_cache)
    with pytest.raises(DistillxError, match="needs dataset.task=intent"):
        run(cfg, tmp_path / "run", "x")


def test_shared_stages_train_once_across_target_languages(tmp_path: Path, shared_cache):
    """A sweep over target languages trains the source model and KD step 1 once (share_stages)."""
    cache = tmp_path / "cache"  # fresh stages; the demo mPLM built once per test session is reused
    overrides = [*TINY, f"mplm.build.cache_dir={shared_cache / 'demo-mplm'}"]
    first = run(compose_config([*overrides, "language=de"], tmp_path, cache), tmp_path / "de", "de")
    second = run(compose_config([*overrides, "language=fr"], tmp_path, cache), tmp_path / "fr", "fr")
    assert (tmp_path / "de" / "stages" / "kd1_mplm").resolve() == (tmp_path / "fr" / "stages" / "kd1_mplm").resolve()
    assert (tmp_path / "de" / "stages" / "kd2_student").resolve() != (
        tmp_path / "fr" / "stages" / "kd2_student"
    ).resolve()
    assert first.scores["teacher"]["en"] == second.scores["teacher"]["en"]
    assert len(list((cache / "stages").glob("source_model-*"))) == 1
