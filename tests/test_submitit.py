"""``hydra/launcher=submitit``: each job of a sweep runs in its own submitit process, and still nests its MLflow
run under the sweep's one parent run (found through the sweep dir the processes share)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TINY
from mlflow import MlflowClient
from omegaconf import OmegaConf

DISTILLX = Path(sys.executable).parent / "distillx"  # the console script, as a user runs it


@pytest.mark.slow  # about 90 s on 2 loaded cores (two tiny jobs at once, a fresh cache)
def test_submitit_local_sweep_runs_each_job_in_its_own_process_under_one_parent(tmp_path: Path, shared_cache: Path):
    sweep_dir = tmp_path / "sweep"
    db = tmp_path / "mlflow.db"
    launcher = subprocess.Popen(
        [
            str(DISTILLX),
            "--multirun",
            "hydra/launcher=submitit",
            "language=de,fr",
            "trainer.threads=1",
            f"tracking.uri=sqlite:///{db}",
            f"hydra.sweep.dir={sweep_dir}",
            f"cache_dir={shared_cache}",
            *TINY,
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        start_new_session=True,  # its own process group: the submitit job processes share it
    )
    try:
        _, stderr = launcher.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)  # the launcher and the jobs it started, which outlive it otherwise
        raise
    job_errors = "".join(p.read_text()[-2000:] for p in sorted(sweep_dir.glob(".submitit/*/*_log.err")))
    assert launcher.returncode == 0, stderr[-3000:] + job_errors

    job_ids = []
    for num in (0, 1):
        job_dir = sweep_dir / str(num)
        assert (job_dir / "results.json").is_file(), num
        # the plugin sets hydra.job.id to the submitit job id: the id of the process that ran this job
        job_id = str(OmegaConf.load(job_dir / ".hydra" / "hydra.yaml").hydra.job.id)
        job_ids.append(job_id)
        logs = sweep_dir / ".submitit" / job_id
        assert (logs / f"{job_id}_0_result.pkl").is_file(), sorted(p.name for p in sweep_dir.glob(".submitit/*/*"))
        assert f"outputs: {job_dir}" in (logs / f"{job_id}_0_log.out").read_text()  # this job printed there
    assert job_ids[0] != job_ids[1] and str(launcher.pid) not in job_ids, (job_ids, launcher.pid)

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    runs = client.search_runs([client.get_experiment_by_name("distillx").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    nesting = [(r.info.run_name, r.data.tags.get("mlflow.parentRunId")) for r in runs]
    assert len(parents) == 1 and len(children) == 2, nesting
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert {c.data.params["language.code"] for c in children} == {"de", "fr"}
    assert all(r.info.status == "FINISHED" for r in runs), [(r.info.run_name, r.info.status) for r in runs]
