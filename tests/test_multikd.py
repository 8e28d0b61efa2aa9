"""MultiKD, MonoKD and MultiTrain end to end on the demo (tiny settings): AVG(S)/AVG(Z)/AVG(A) reported, teachers
shared between methods, and each method reads exactly the labels the paper allows it (the label-read spy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY, compose_config

from distillx.cli import run
from distillx.errors import DistillxError
from distillx.report.results import Results

# the small-model sizes of TINY do not apply to a student built on the mPLM; 120 utterances per split and language
TINY_MPLM = [o for o in TINY if not o.startswith(("student.", "teacher."))] + ["split.limit=120"]
SUPERVISED = ["en", "fr", "zh"]
ZERO_SHOT = ["de", "es", "hi", "ja", "th"]


def declared(reads: list[str | None]) -> set[str]:
    """The declared purposes of label reads, without data preparation and test scoring: a zero-shot language's
    labels may be read only to score it."""
    return {r or "UNDECLARED" for r in reads if r and not r.startswith("reading and preprocessing")} - {
        f"{lang} test" for lang in SUPERVISED + ZERO_SHOT
    }


@pytest.mark.parametrize(
    ("method", "student", "allowed"),
    [
        ("multikd", "mblm", {f"teacher_{lang} {split}" for lang in SUPERVISED for split in ("train", "dev")}),
        ("monokd", "mplm", {"teacher_en train", "teacher_en dev"}),
        ("multitrain", "mblm", {"multitrain_student train", "multitrain_student dev"}),
    ],
)
def test_multilingual_methods_run_on_the_demo(
    tmp_path: Path,
    shared_cache,
    spy_gold,
    method: str,
    student: str,
    allowed: set[str],  # noqa: F811
):
    extra = ["student.encoder.depth=1"] if student == "mblm" else []
    cfg = compose_config([*TINY_MPLM, f"method={method}", f"student={student}", *extra], tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", method)
    assert results.groups == {"supervised": SUPERVISED, "zero-shot": ZERO_SHOT}
    assert set(results.scores["student"]) == set(SUPERVISED + ZERO_SHOT)
    averages = results.averages()["student"]
    s = [results.scores["student"][lang]["accuracy"] for lang in SUPERVISED]
    z = [results.scores["student"][lang]["accuracy"] for lang in ZERO_SHOT]
    assert averages["avg_s"]["accuracy"] == pytest.approx(sum(s) / 3)
    assert averages["avg_z"]["accuracy"] == pytest.approx(sum(z) / 5)
    assert averages["avg_a"]["accuracy"] == pytest.approx((sum(s) + sum(z)) / 8)
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["averages"]["student"]["avg_a"]["accuracy"] == pytest.approx(averages["avg_a"]["accuracy"])
    assert "**AVG(Z)**" in (tmp_path / "run" / "results.md").read_text()
    assert None not in spy_gold, "a gold label was read without declaring why"
    assert declared(spy_gold) <= allowed | {
        "en train split into halves balanced by label",
        "label set of the source model",
    }


def test_small_students_are_refused(tmp_path: Path, shared_cache):
    cfg = compose_config([*TINY, "method=multikd", "student=transformer", "split.limit=120"], tmp_path, shared_cache)
    with pytest.raises(DistillxError, match="choose student=mplm, student=mblm or student=lean"):
        run(cfg, tmp_path / "run", "x")


def test_averages_need_every_language_of_a_group():
    results = Results("en", "", groups={"supervised": ["en", "fr"], "zero-shot": ["de"]})

    class Model:
        role, arch = "student", "x"

    results.add(Model(), "en", {"accuracy": 0.5})
    results.add(Model(), "fr", {"accuracy": 1.0})
    assert results.averages() == {"student": {"avg_s": {"accuracy": 0.75}}}  # no AVG(Z) or AVG(A) without de
    results.add(Model(), "de", {"accuracy": 0.0})
    assert results.averages()["student"]["avg_a"]["accuracy"] == pytest.approx(0.5)
    assert results.sweep_value() == pytest.approx(0.5)


def test_teachers_from_checkpoints_make_multikd_label_free(tmp_path: Path, shared_cache, spy_gold):
    """Off-the-shelf teachers (here: another run's teacher stages) mean no label is read but to score the test sets."""
    base = [*TINY_MPLM, "student=mplm"]
    run(compose_config([*base, "method=monokd"], tmp_path, shared_cache), tmp_path / "mono", "mono")
    spy_gold.clear()
    teacher_en = tmp_path / "mono" / "stages" / "teacher_en"  # both languages get the English model
    checkpoints = [f"+method.teacher_checkpoints.{lang}={teacher_en}" for lang in ("en", "fr")]
    overrides = [*base, "method=multikd", "method.supervised=[en,fr]", *checkpoints]
    results = run(compose_config(overrides, tmp_path, shared_cache), tmp_path / "multi", "multi")
    assert not (tmp_path / "multi" / "stages" / "teacher_fr").exists()  # nothing fine-tuned
    # only the class inventory (which an off-the-shelf model carries with it) is taken from the data
    assert declared(spy_gold) <= {"label set of the source model"}, declared(spy_gold)
    assert set(results.scores["teachers"]) == {"en", "fr"}
    bad = [*base, "method=multikd", f"+method.teacher_checkpoints.en={tmp_path / 'nowhere'}"]
    with pytest.raises(DistillxError, match=r"method.teacher_checkpoints.en=.*nowhere: no checkpoint there"):
        run(compose_config(bad, tmp_path, shared_cache), tmp_path / "bad", "bad")
