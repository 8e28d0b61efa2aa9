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
    db = tmp_path / "mlflow.db"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillx.cli",
            "--multirun",
            "language=de,fr",
            "student=transformer,cnn",
            f"tracking.uri=sqlite:///{db}",
            f"hydra.sweep.dir={tmp_path}/sweep",
            f"cache_dir={shared_cache}",
            *TINY,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1200,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    runs = client.search_runs([client.get_experiment_by_name("distillx").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert {
        (c.data.params["language.code"], c.data.params["student.encoder._target_"].rsplit(".", 1)[-1]) for c in children
    } == {(lang, arch) for lang in ("de", "fr") for arch in ("TransformerEncoder", "CNNEncoder")}
    assert all("test/student/" + c.data.params["language.code"] + "/accuracy" in c.data.metrics for c in children)
    assert parents[0].info.status == "FINISHED", proc.stderr[-2000:]
