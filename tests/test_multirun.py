"""``distillx --multirun`` over a 2x2 grid: one MLflow parent run with the four jobs nested under it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TINY
from mlflow import MlflowClient


@pytest.mark.slow
def test_two_by_two_sweep_is_one_parent_with_four_children(tmp_path: Path, shared_cache: Path):
    runs = sweep(tmp_path, "sweep", shared_cache, "student=transformer,cnn")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert {
        (c.data.params["language.code"], c.data.params["student.encoder._target_"].rsplit(".", 1)[-1]) for c in children
    } == {(lang, arch) for lang in ("de", "fr") for arch in ("TransformerEncoder", "CNNEncoder")}
    assert all("test/student/" + c.data.params["language.code"] + "/accuracy" in c.data.metrics for c in children)
    assert parents[0].info.status == "FINISHED"


def sweep(tmp_path: Path, name: str, cache: Path, *extra: str) -> list:
    """Run a sweep over language=de,fr (and ``extra``) in a subprocess; the MLflow runs of its experiment."""
    db = tmp_path / f"{name}.db"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillx.cli",
            "--multirun",
            "language=de,fr",
            "trainer.threads=1",
            f"tracking.uri=sqlite:///{db}",
            f"hydra.sweep.dir={tmp_path}/{name}",
            f"cache_dir={cache}",
            *TINY,
            *extra,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1200,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    return client.search_runs([client.get_experiment_by_name("distillx").experiment_id])


@pytest.mark.slow
def test_parallel_sweep_builds_shared_stages_once_and_matches_the_sequential_one(tmp_path: Path):
    """hydra/launcher=parallel: two jobs at once on a fresh cache build the demo mPLM, vocabularies, source model and
    KD step 1 once (the other job waits on the lock), nest under one MLflow parent, and give the figures a
    sequential sweep gives with the same cache."""
    cache = tmp_path / "cache"
    parallel = sweep(tmp_path, "parallel", cache, "hydra/launcher=parallel")
    for pattern in ("stages/source_model-*", "stages/kd1_mplm-*", "demo-mplm/*", "vocab/en-*"):
        built = [p for p in cache.glob(pattern) if p.is_dir() and not p.name.startswith(".")]
        assert len(built) == 1, (pattern, built)
    parents = [r for r in parallel if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in parallel if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    logs = [p.read_text() for p in sorted((tmp_path / "parallel").glob("*/cli.log"))]
    for stage in ("source_model", "kd1_mplm"):  # trained by one job; the other waited for it and loaded it
        assert sum(f"{stage} epoch 1:" in log for log in logs) == 1, stage
    sequential = sweep(tmp_path, "sequential", cache)

    def scores(runs: list) -> dict:
        return {
            r.data.params["language.code"]: {k: v for k, v in r.data.metrics.items() if k.startswith("test/")}
            for r in runs
            if "mlflow.parentRunId" in r.data.tags
        }

    assert scores(parallel) == scores(sequential)
