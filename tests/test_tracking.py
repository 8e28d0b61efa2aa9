"""MLflow tracking: run params/metrics/artifacts, resume from an output dir, one parent run per sweep, system
metrics behind one switch, and the UI address of the runs table."""

import csv
import io
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import compose_config
from hydra.utils import instantiate
from mlflow import MlflowClient

from distillx.errors import DistillxError
from distillx.track.mlflow_tracker import RUN_ID_FILE, MlflowTracker
from distillx.track.sweep_callback import PARENT_RUN_ID_FILE
from distillx.track.ui import runs_url

SRC = Path(__file__).parents[1] / "src"


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[str, Path]:
    """One sqlite store shared by the tracker tests: creating its schema costs seconds."""
    db_dir = tmp_path_factory.mktemp("store") / "nested"
    return f"sqlite:///{db_dir}/mlflow.db", db_dir


CONFIG = {
    "lr": 0.1,
    "student": {"hidden_size": 8, "langs": ["en", "de"]},
    "notes": "x" * 7000,
}


def test_tracker_logs_flat_params_metric_history_and_config(store, tmp_path):
    uri, db_dir = store
    tracker = MlflowTracker(uri=uri, experiment="unit")
    tracker.start("run-1", CONFIG, output_dir=tmp_path / "out", tags={"stage": "distill"})
    tracker.log_metrics({"loss": 2.0, "f1[en]": 0.5}, step=0)
    tracker.log_metrics({"loss": 1.0}, step=1)
    (tmp_path / "pred.txt").write_text("a\n")
    tracker.log_artifact(tmp_path / "pred.txt", artifact_path="predictions")
    tracker.end()

    client = MlflowClient(uri)
    run = client.get_run(tracker.run_id)
    assert (tmp_path / "out" / RUN_ID_FILE).read_text() == tracker.run_id
    assert run.info.status == "FINISHED" and run.info.run_name == "run-1"
    assert run.data.params["lr"] == "0.1"
    assert run.data.params["student.hidden_size"] == "8"
    assert run.data.params["student.langs"] == "['en', 'de']"
    assert len(run.data.params["notes"]) == 6000
    assert run.data.tags["stage"] == "distill" and "mlflow.parentRunId" not in run.data.tags
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 2.0), (1, 1.0)]
    assert run.data.metrics["f1_en_"] == 0.5
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"config.yaml", "predictions"}
    config_yaml = Path(client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path)))
    assert "hidden_size: 8" in config_yaml.read_text()
    assert (db_dir / "mlartifacts").is_dir(), "artifacts belong beside the database, not in the cwd"


def test_restarted_output_dir_resumes_the_same_run(store, tmp_path, caplog):
    uri, _ = store
    first = MlflowTracker(uri=uri, experiment="unit")
    first.start("run", CONFIG, output_dir=tmp_path)
    first.log_metrics({"loss": 3.0}, step=0)  # then the process is killed: no end()

    second = MlflowTracker(uri=uri, experiment="unit")
    with caplog.at_level(logging.WARNING):
        second.start("run", {**CONFIG, "lr": 0.2, "seed": 1}, output_dir=tmp_path)
    second.log_metrics({"loss": 2.0}, step=1)
    second.end()

    assert second.run_id == first.run_id
    run = MlflowClient(uri).get_run(first.run_id)
    assert run.data.params["lr"] == "0.1" and run.data.params["seed"] == "1"
    assert "param lr changed" in caplog.text
    history = MlflowClient(uri).get_metric_history(first.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 3.0), (1, 2.0)]
    assert run.info.status == "FINISHED"


STARTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from distillx.track.mlflow_tracker import MlflowTracker
    go, uri, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    Path(out + ".ready").touch()
    while not go.exists():  # both processes imported everything: start together
        time.sleep(0.01)
    tracker = MlflowTracker(uri=uri, experiment="race")
    tracker.start("run", {"x": 1}, output_dir=Path(out))
    tracker.end()
    """
)


def test_two_jobs_starting_together_on_a_fresh_store_both_run(tmp_path):
    """MLflow creates and migrates a new sqlite database on first use; two processes doing it at once used to
    end one in alembic's migration traceback (``make demo`` beside another run on a fresh clone)."""
    go, uri = tmp_path / "go", f"sqlite:///{tmp_path}/db/mlflow.db"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(go), uri, str(tmp_path / f"out{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"out{i}.ready").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.05)  # until both have imported mlflow and wait
    go.touch()
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0], [err[-1500:] for _, err in results]
    assert len(MlflowClient(uri).search_runs(MlflowClient(uri).get_experiment_by_name("race").experiment_id)) == 2


def test_disabled_tracker_writes_nothing(tmp_path):
    tracker = MlflowTracker(uri=f"sqlite:///{tmp_path}/db/mlflow.db", experiment="unit", enabled=False)
    tracker.start("run", CONFIG, output_dir=tmp_path / "out")
    tracker.log_metrics({"loss": 1.0}, step=0)
    tracker.set_tags({"a": 1})
    tracker.log_artifacts(tmp_path)
    tracker.end()
    assert tracker.run_id is None
    assert list(tmp_path.iterdir()) == []


APP = """
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from distillx.track.sweep_callback import parent_run_id_for_job


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    hydra_cfg = HydraConfig.get()
    tracker = instantiate(cfg.tracking)
    tracker.start(
        run_name=hydra_cfg.job.override_dirname or "single",
        config=cfg,
        output_dir=Path(hydra_cfg.runtime.output_dir),
        parent_run_id=parent_run_id_for_job(hydra_cfg),
    )
    tracker.log_metrics({"test/score": cfg.a * 10 + "xyz".index(cfg.b)}, step=0)
    tracker.end()


main()
"""

# A relative store and sweep dir with hydra.job.chdir: both must still resolve against the launch dir.
APP_CONFIG = """
a: 0
b: z
tracking:
  _target_: distillx.track.mlflow_tracker.MlflowTracker
  uri: sqlite:///store/mlflow.db
  experiment: sweep-test
hydra:
  job:
    chdir: true
  callbacks:
    mlflow_sweep:
      _target_: distillx.track.sweep_callback.MlflowSweepCallback
      uri: ${tracking.uri}
      experiment: ${tracking.experiment}
"""


def _run_app(cwd: Path, *args: str) -> None:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "app.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    assert "MlflowSweepCallback" not in proc.stderr, proc.stderr  # Hydra turns callback errors into warnings


def test_multirun_nests_jobs_under_one_parent_run(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(APP_CONFIG)
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    _run_app(tmp_path, "--multirun", "a=1,2", "b=x,y", "hydra.sweep.dir=sweep")
    _run_app(tmp_path, "a=3", "hydra.run.dir=single")

    client = MlflowClient(f"sqlite:///{tmp_path}/store/mlflow.db")
    experiment = client.get_experiment_by_name("sweep-test")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "distillx.sweep_dir" in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert (tmp_path / "sweep" / PARENT_RUN_ID_FILE).read_text() == parent.info.run_id
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["distillx.sweep_overrides"] == "a=1,2 b=x,y"

    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {r.data.metrics["test/score"] for r in children} == {10, 11, 20, 21}
    assert parent.data.metrics["a_1_b_x/test/score"] == 10

    (single,) = [r for r in runs if r.info.run_name == "a=3"]
    assert "mlflow.parentRunId" not in single.data.tags
    assert single.data.metrics["test/score"] == 32
    assert len(runs) == 6

    summary = client.download_artifacts(parent.info.run_id, "sweep_summary.csv", str(tmp_path))
    rows = list(csv.DictReader(io.StringIO(Path(summary).read_text())))
    assert len(rows) == 4
    assert {(r["a"], r["b"], r["test/score"]) for r in rows} == {
        ("1", "x", "10.0"),
        ("1", "y", "11.0"),
        ("2", "x", "20.0"),
        ("2", "y", "21.0"),
    }
    assert "tracking.uri" not in rows[0], "only params that vary between jobs belong in the summary"


@pytest.mark.parametrize(
    ("overrides", "on"), [([], False), (["tracking.system_metrics=true"], True)], ids=["default-off", "on"]
)
def test_system_metrics_follow_the_one_switch(store, tmp_path, monkeypatch, overrides, on):
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.1")
    uri, _ = store
    tracker = instantiate(compose_config(overrides, tmp_path).tracking, uri=uri, experiment="unit")
    tracker.start("run", CONFIG, output_dir=tmp_path / "out")
    time.sleep(1.0)
    tracker.end()
    run = MlflowClient(uri).get_run(tracker.run_id)
    system = {key for key in run.data.metrics if key.startswith("system/")}
    if on:
        assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= system
    else:
        assert system == set()
    assert run.info.status == "FINISHED"


def test_system_metrics_without_psutil_stop_the_run_before_it_starts(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # as if not installed
    tracker = MlflowTracker(uri=store[0], experiment="unit", system_metrics=True)
    with pytest.raises(DistillxError, match=r"^tracking.system_metrics=true: MLflow's system metrics need psutil"):
        tracker.start("run", CONFIG, output_dir=tmp_path)
    assert tracker.run_id is None and not (tmp_path / RUN_ID_FILE).exists()


def test_ui_address_is_the_runs_table_of_the_experiment_in_the_model_training_view(store, tmp_path):
    uri, _ = store
    experiment_id = MlflowClient(uri).create_experiment("ui")
    base = "http://127.0.0.1:5000"
    view = "workflowType=machine_learning"
    assert runs_url(base, uri, "ui") == f"{base}/#/experiments/{experiment_id}/runs?{view}"
    assert runs_url(base, uri, "no-runs-yet") == f"{base}/#/experiments?{view}"
    assert runs_url(base, f"sqlite:///{tmp_path}/none/mlflow.db", "ui") == f"{base}/#/experiments?{view}"
    assert not (tmp_path / "none").exists(), "looking must not create a store"
