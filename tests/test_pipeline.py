"""The whole pipeline on the embedded demo with tiny settings: results, MLflow, resume, multirun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY, compose_config
from mlflow import MlflowClient

from distillx.cli import run
from distillx.errors import DistillxError


def runs(db: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.get_experiment_by_name("distillx")
    return client.search_runs([exp.experiment_id]) if exp else []


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, shared_cache):
    tmp = tmp_path_factory.mktemp("demo")
    cfg = compose_config([*TINY, "language=de"], tmp, shared_cache)
    out = tmp / "run"
    results = run(cfg, out, "demo-test")
    return cfg, tmp, out, results


def test_demo_run_writes_results_and_stages(demo_run):
    _, _, out, results = demo_run
    saved = json.loads((out / "results.json").read_text())
    assert saved["source"] == "en" and saved["target"] == "de"
    assert set(saved["scores"]) == {"teacher", "mplm", "student"}
    assert set(saved["scores"]["student"]["de"]) == {"accuracy"}  # task=intent: no slot metrics
    assert 0.0 <= saved["scores"]["student"]["de"]["accuracy"] <= 1.0
    for stage in ("source_model", "kd1_mplm", "kd2_student"):
        assert (out / "stages" / stage / "done.json").exists()
        assert (out / "stages" / stage / "best.pt").exists()
    # the frozen teachers' outputs were computed once and stored with the KD stages
    assert (out / "stages" / "kd1_mplm" / "teacher_train_outputs.pt").exists()
    assert "| de (target) |" in (out / "results.md").read_text()


def test_demo_run_is_tracked_in_mlflow(demo_run):
    _, tmp, out, results = demo_run
    (mlrun,) = runs(tmp / "mlflow.db")
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.params["language.code"] == "de"
    assert mlrun.data.params["trainer.epochs"] == "2"
    assert mlrun.data.metrics["test/student/de/accuracy"] == pytest.approx(results.scores["student"]["de"]["accuracy"])
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    assert len(client.get_metric_history(mlrun.info.run_id, "kd2_student/dev_teacher_agreement")) == 2
    artifacts = {a.path for a in client.list_artifacts(mlrun.info.run_id)}
    assert {"config.yaml", "results.json", "checkpoints"} <= artifacts


def test_rerun_in_same_output_dir_resumes_without_training(demo_run):
    cfg, tmp, out, results = demo_run
    again = run(cfg, out, "demo-test")
    assert again.scores == results.scores
    (mlrun,) = runs(tmp / "mlflow.db")  # the same MLflow run continued, no second run
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    assert len(client.get_metric_history(mlrun.info.run_id, "kd2_student/dev_teacher_agreement")) == 2


def test_language_missing_from_dataset_is_a_one_line_error(tmp_path: Path, shared_cache):
    cfg = compose_config([*TINY, "language=pt"], tmp_path, shared_cache)
    with pytest.raises(DistillxError, match="language=pt: dataset demo has no 'pt'"):
        run(cfg, tmp_path / "run", "x")


def test_missing_mplm_path_is_a_one_line_error(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillx.cli",
            "mplm=local",
            "mplm.name_or_path=/nonexistent/model",
            "tracking=none",
            f"hydra.run.dir={tmp_path}/run",
            f"cache_dir={tmp_path}/cache",
            *TINY[:3],
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "distillx: error: mplm.name_or_path='/nonexistent/model'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("task", "student"), [("slots", "bilstm"), ("slots", "cnn"), ("both", "transformer")])
def test_word_level_tasks_run_end_to_end(tmp_path: Path, shared_cache, task: str, student: str):
    """Slot filling (word-level KD at first sub-words) and joint intent + slots, every student head kind."""
    overrides = [*TINY, "language=zh", f"dataset.task={task}", f"student={student}", "teacher.lr=3e-3"]
    cfg = compose_config(overrides, tmp_path, shared_cache)
    if student == "cnn":
        assert cfg.student.encoder.dilation_base == 2  # the dilated CNN for tagging (freetransfer-x.md §3.3.1)
    results = run(cfg, tmp_path / "run", "slots-test")
    expected = {"slot_f1", "exact_match"} | ({"accuracy"} if task == "both" else set())
    for role, lang in (("teacher", "en"), ("mplm", "en"), ("mplm", "zh"), ("student", "zh")):
        assert set(results.scores[role][lang]) == expected, (role, lang)
    assert results.scores["teacher"]["en"]["slot_f1"] > 0.1  # learnt from gold tags (all-O scores 0)
    cached = torch.load(tmp_path / "run" / "stages" / "kd2_student" / "teacher_train_outputs.pt", weights_only=True)
    slots, seen = cached["targets"]["slots"], cached["targets"]["word_mask"]
    assert len(slots) == len(seen) and all(s.shape[0] == m.shape[0] for s, m in zip(slots, seen, strict=True))
    assert "**slot F1**" in (tmp_path / "run" / "results.md").read_text()


def test_second_run_of_a_config_neither_segments_nor_tokenizes(tmp_path: Path, monkeypatch, shared_cache):
    """Segmented and tokenized data come from the Arrow cache the first run wrote (issue 3, caching)."""
    cache = shared_cache
    cfg = compose_config([*TINY, "language=ja", "trainer.epochs=1"], tmp_path, cache)
    first = run(cfg, tmp_path / "first", "first")

    def forbidden(*args, **kwargs):
        raise AssertionError("segmented or tokenized again")

    monkeypatch.setattr("distillx.context.RunContext.segment", forbidden)
    monkeypatch.setattr("distillx.context.encode_words", forbidden)
    again = run(compose_config([*TINY, "language=ja", "trainer.epochs=1"], tmp_path, cache), tmp_path / "again", "x")
    assert again.scores == first.scores
    assert any((cache / "preprocess").iterdir())
